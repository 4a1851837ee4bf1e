"""containerd and labkit side by side, and where Kubernetes' CRI sits (notebook 12).

Two pictures:

- ``side_by_side()``: the two stacks the notebook runs at once, layer against layer —
  a gRPC socket, the supervisor, one shim per process, runc, the container process —
  with the one Python client (``labkit.api.client``) and ``ctr`` talking to both;
- ``cri()``: Kubernetes on top. The kubelet does not call containerd's own API: it
  speaks the Container Runtime Interface (CRI, a gRPC API of pods, containers and
  images) to a *CRI runtime* — containerd's CRI plugin or CRI-O — which then drives a
  shim and runc. The lab disables containerd's CRI plugin (``lab.containerd``), and
  labkit has none: it stops one layer below, where containerd's 1.0 API was.
"""

from __future__ import annotations

import graphviz

from ._style import COLORS, digraph

__all__ = ["side_by_side", "cri"]


def _stack(graph: graphviz.Digraph, prefix: str, title: str, layers: list[tuple[str, str, str]]) -> None:
    """One column: ``layers`` top to bottom as (label, kind, label of the edge to the next layer)."""
    with graph.subgraph(name=f"cluster_{prefix}") as cluster:
        cluster.attr(label=title, style="rounded")
        for number, (label, kind, _) in enumerate(layers):
            cluster.node(f"{prefix}{number}", label, fillcolor=COLORS[kind])
        for number, (_, _, call) in enumerate(layers[:-1]):
            cluster.edge(f"{prefix}{number}", f"{prefix}{number + 1}", label=call)


def side_by_side() -> graphviz.Digraph:
    """The real containerd and labkit, each from its socket down to the container process."""
    graph = digraph("side_by_side")
    graph.node("client", "labkit.api.client\n(Python, gRPC)", fillcolor=COLORS["client"])
    graph.node("ctr", "ctr", fillcolor=COLORS["client"])
    _stack(graph, "real", "containerd 1.6 (Debian)", [
        ("<lab root>/containerd/containerd.sock", "supervisor", ""),
        ("containerd\nmetadata (bolt) · content · snapshotter overlayfs\nnamespaces · events in memory",
         "supervisor", "ttrpc"),
        ("containerd-shim-runc-v2\n(one per container, stays)", "runtime", "exec"),
        ("runc\n(exits once started)", "runtime", "clone + exec"),
        ("container process", "kernel", ""),
    ])
    _stack(graph, "mini", "labkit", [
        ("<lab root>/labkit.sock\n(labkit serve)", "supervisor", ""),
        ("labkit.supervisor\nrecords (JSON) · content · snapshots overlay\none namespace · events.jsonl",
         "supervisor", "exec"),
        ("labkit.shim\n(one per process, stays)", "runtime", "exec"),
        ("runc\n(exits once started)", "runtime", "clone + exec"),
        ("container process", "kernel", ""),
    ])
    for client in ("client", "ctr"):
        graph.edge(client, "real0", label="gRPC")
        graph.edge(client, "mini0", label="gRPC")
    return graph


def cri() -> graphviz.Digraph:
    """Where the kubelet and CRI sit above containerd (and beside it, CRI-O); labkit stops below CRI."""
    graph = digraph("cri")
    graph.node("kubelet", "kubelet\n(one per Kubernetes node)", fillcolor=COLORS["client"])
    graph.node("cri", "CRI: RuntimeService + ImageService\n(gRPC: pods, containers, images)",
               shape="note", fillcolor="white")
    graph.node("plugin", "containerd's CRI plugin\n(disabled in the lab)", fillcolor=COLORS["supervisor"])
    graph.node("crio", "CRI-O", fillcolor=COLORS["supervisor"])
    graph.node("containerd", "containerd API\n(events, containers, tasks, ...)", fillcolor=COLORS["supervisor"])
    graph.node("labkit", "labkit supervisor\n(containerd's API through labkit serve)", fillcolor=COLORS["supervisor"])
    graph.node("shim", "shim → runc → process", fillcolor=COLORS["runtime"])
    graph.edge("kubelet", "cri")
    graph.edge("cri", "plugin")
    graph.edge("cri", "crio")
    graph.edge("plugin", "containerd", label="Go calls, namespace k8s.io")
    graph.edge("containerd", "shim")
    graph.edge("crio", "shim", label="conmon")
    graph.edge("labkit", "shim", label="labkit.shim")
    graph.edge("cri", "labkit", style="dashed", label="no CRI server", color="gray", fontcolor="gray")
    return graph
