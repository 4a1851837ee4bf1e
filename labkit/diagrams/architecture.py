"""The big picture (notebook 00): the Docker Engine before and after containerd and runc.

Three pictures tell the containerd 1.0 story: one daemon that did everything; the
same daemon split into standard parts (containerd supervises, a shim per container
holds it, runc executes); and the chain a Kubernetes pod's container goes through
once kubelet talks CRI to containerd instead of driving a whole engine.
"""

from __future__ import annotations

import itertools

import graphviz

from ._style import COLORS, digraph

__all__ = ["before_split", "after_split", "cri_chain", "course_map", "COURSE"]

#: the course, in order: (notebook file stem, title, part)
COURSE = (
    ("00-big-picture", "The lab and the big picture", "start"),
    ("01-namespaces", "Namespaces", "from scratch"),
    ("02-root-filesystem", "Root filesystem and pivot_root", "from scratch"),
    ("03-cgroups", "Cgroups", "from scratch"),
    ("04-container-from-scratch", "A container from scratch", "from scratch"),
    ("05-registry", "Talking to a registry", "images"),
    ("06-layers-and-snapshots", "Layers and snapshots", "images"),
    ("07-runtime-bundle", "The runtime bundle and runc", "runtime"),
    ("08-supervisor-and-events", "The supervisor and its events", "runtime"),
    ("09-exec-signals-pause", "Exec, signals, pause", "runtime"),
    ("10-metrics", "Metrics", "operations"),
    ("11-networking", "Networking", "operations"),
    ("12-containerd-side-by-side", "containerd side by side", "operations"),
    ("13-benchmarking", "Benchmarking", "operations"),
    ("14-rootless", "Rootless", "operations"),
)


def _node(graph: graphviz.Digraph, name: str, label: str, kind: str, **attrs: str) -> None:
    graph.node(name, label, fillcolor=COLORS[kind], **attrs)


def before_split() -> graphviz.Digraph:
    """Docker Engine before 2016: one daemon holds the API, images, build, volumes, networks and the containers."""
    graph = digraph("before")
    _node(graph, "cli", "docker CLI", "client")
    with graph.subgraph(name="cluster_engine") as engine:
        engine.attr(label="dockerd (one process, one release)", style="filled", fillcolor=COLORS["engine"])
        for part in ("REST API", "images + build", "volumes", "networks", "container execution"):
            engine.node(part, part)
    graph.edge("cli", "REST API")
    _node(graph, "c1", "container", "kernel")
    _node(graph, "c2", "container", "kernel")
    graph.edge("container execution", "c1", label="child process")
    graph.edge("container execution", "c2")
    return graph


def after_split() -> graphviz.Digraph:
    """After containerd 1.0 (December 2017): standard parts with standard interfaces."""
    graph = digraph("after")
    _node(graph, "docker", "docker CLI → dockerd", "engine")
    _node(graph, "ctr", "ctr", "client")
    _node(graph, "kubelet", "kubelet (CRI)", "client")
    _node(graph, "containerd", "containerd\nimages · content · snapshots\ncontainers · tasks · events · metrics", "supervisor")
    _node(graph, "registry", "registry\n(distribution API)", "data")
    for ctr in ("a", "b"):
        _node(graph, f"shim_{ctr}", "containerd-shim", "runtime")
        _node(graph, f"runc_{ctr}", "runc (OCI runtime)\nexits once started", "runtime", style="rounded,filled,dashed")
        _node(graph, f"container_{ctr}", "container", "kernel")
        graph.edge("containerd", f"shim_{ctr}", label="shim API")
        graph.edge(f"shim_{ctr}", f"runc_{ctr}", label="create/start, exits")
        graph.edge(f"runc_{ctr}", f"container_{ctr}", label="bundle → process")
    for client in ("docker", "ctr", "kubelet"):
        graph.edge(client, "containerd", label="gRPC")
    graph.edge("containerd", "registry", label="pull", style="dashed")
    return graph


def cri_chain() -> graphviz.Digraph:
    """The chain from Kubernetes to a process: who calls whom to start one container."""
    graph = digraph("chain", rankdir="LR")
    steps = (
        ("kubelet", "kubelet", "client", "CRI (gRPC)"),
        ("cri", "CRI plugin", "supervisor", "Go calls"),
        ("containerd", "containerd", "supervisor", "shim API"),
        ("shim", "shim", "runtime", "exec runc"),
        ("runc", "runc", "runtime", "clone + exec"),
        ("process", "container\nprocess", "kernel", ""),
    )
    for name, label, kind, _ in steps:
        _node(graph, name, label, kind)
    for (caller, _, _, call), (callee, _, _, _) in itertools.pairwise(steps):
        graph.edge(caller, callee, label=call)
    return graph


def course_map() -> graphviz.Digraph:
    """The notebooks of the course, grouped by part, in order."""
    graph = digraph("course")
    parts: dict[str, list[tuple[str, str]]] = {}
    for stem, title, part in COURSE:
        parts.setdefault(part, []).append((stem, title))
    for number, (part, notebooks) in enumerate(parts.items()):
        with graph.subgraph(name=f"cluster_{number}") as cluster:
            cluster.attr(label=part, style="rounded")
            for stem, title in notebooks:
                cluster.node(stem, f"{stem[:2]} · {title}")
    # Each part is a column read downwards; a dashed edge leads on to the next part's top.
    for (stem, _, part), (following, _, next_part) in itertools.pairwise(COURSE):
        if part == next_part:
            graph.edge(stem, following)
        else:
            graph.edge(stem, following, style="dashed", constraint="false")
    return graph
