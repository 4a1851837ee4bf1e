"""Processes and the namespaces they share (notebooks 01 and 04), drawn from ``/proc``.

Each process is a box, each namespace an ellipse labelled as ``/proc/PID/ns`` shows it
(``uts:[4026531838]``), and an edge says "this process is in that namespace". Two
processes share a namespace exactly when they point at the same ellipse. The first
process is the reference (the host, or the notebook): namespaces it is not in are
coloured, so a container's own ones stand out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import graphviz

from .. import ns
from ._style import COLORS, digraph

__all__ = ["TYPES", "sharing"]

#: the namespace types drawn by default, in the order of the picture
TYPES = ("mnt", "uts", "ipc", "pid", "net", "user", "cgroup")


def sharing(processes: Mapping[str, int | str], types: Sequence[str] = TYPES) -> graphviz.Digraph:
    """Draw ``processes`` (label -> pid) and, per type in ``types``, the namespaces they are in.

    Node names are given in order of appearance (``uts1``, ``uts2``, ...), not by inode,
    so that the DOT source of the same situation is the same on every run.
    """
    found = {label: ns.namespaces(pid) for label, pid in processes.items()}
    graph = digraph("namespaces", rankdir="LR")
    graph.attr(ranksep="1.2")
    names: dict[ns.Namespace, str] = {}
    for each in found.values():
        for kind in types:
            namespace = each[kind]
            names.setdefault(namespace, f"{kind}{sum(n.type == kind for n in names) + 1}")
    for index, (label, pid) in enumerate(processes.items()):
        graph.node(f"p{index}", f"{label}\npid {pid}", fillcolor=COLORS["kernel"])
    reference = set(next(iter(found.values())).values()) if found else set()
    for namespace, name in names.items():
        colour = "white" if namespace in reference else COLORS["runtime"]
        graph.node(name, str(namespace), shape="ellipse", fillcolor=colour)
    for index, each in enumerate(found.values()):
        for kind in types:
            graph.edge(f"p{index}", names[each[kind]])
    return graph
