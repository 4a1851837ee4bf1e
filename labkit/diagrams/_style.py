"""The look shared by every diagram, so the course's pictures read as one family."""

from __future__ import annotations

import graphviz

__all__ = ["digraph", "COLORS"]

#: one colour per part of the stack, used the same way in every picture
COLORS = {
    "client": "#dbeafe",      # ctr, docker CLI, kubelet
    "engine": "#fde68a",      # dockerd, the monolith
    "supervisor": "#bbf7d0",  # containerd, labkit's supervisor
    "runtime": "#fecaca",     # shim, runc, crun
    "kernel": "#e5e7eb",      # namespaces, cgroups, processes
    "data": "#f5d0fe",        # registry, images, snapshots
}


def digraph(name: str, *, rankdir: str = "TB") -> graphviz.Digraph:
    """A directed graph with the course's fonts and node style."""
    graph = graphviz.Digraph(name)
    graph.attr(rankdir=rankdir, fontname="Helvetica", fontsize="11", nodesep="0.3", ranksep="0.4")
    graph.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10", fillcolor="white")
    graph.attr("edge", fontname="Helvetica", fontsize="9")
    return graph
