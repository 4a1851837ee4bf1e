"""Snapshots as pictures (notebook 06): the chain of committed layers, and an overlay mount.

``snapshot_chain`` draws every snapshot of a snapshotter with an arrow to its parent:
the image's committed layers (named by ChainID) at the bottom, the active snapshots of
containers on top. ``overlay_mount`` draws what ``mount -t overlay`` is given for an
active snapshot: the lower directories (read-only, top first), the upper directory
where writes land, the work directory, and the merged view (kernel docs,
filesystems/overlayfs.rst). Directories are named relative to the snapshotter's root,
so the pictures are the same on every host.
"""

from __future__ import annotations

from pathlib import Path

import graphviz

from ..snapshots import Info, Snapshotter
from ._style import COLORS, digraph

__all__ = ["snapshot_chain", "overlay_mount"]


def _short(name: str) -> str:
    """``sha256:<64 hex>`` → ``sha256:<12 hex>``; other names (keys) as they are."""
    algorithm, sep, encoded = name.partition(":")
    return f"{algorithm}:{encoded[:12]}" if sep and len(encoded) == 64 else name


def _label(info: Info) -> str:
    return f"{_short(info.name)}\n{info.kind} · snapshots/{info.id}"


def snapshot_chain(snapshotter: Snapshotter) -> graphviz.Digraph:
    """Every snapshot of ``snapshotter``, each pointing at its parent (bottom: the base layer)."""
    graph = digraph("snapshots", rankdir="BT")
    for info in snapshotter.walk():
        style = "rounded,filled" if info.kind == "committed" else "rounded,filled,dashed"
        fill = COLORS["data"] if info.kind == "committed" else "white"
        graph.node(f"s{info.id}", _label(info), style=style, fillcolor=fill)
        if info.parent is not None:
            graph.edge(f"s{info.id}", f"s{snapshotter.stat(info.parent).id}", label="parent")
    return graph


def overlay_mount(snapshotter: Snapshotter, key: str, target: str = "rootfs") -> graphviz.Digraph:
    """The overlay mount of the active snapshot ``key``: lowerdirs, upperdir and workdir → ``target``."""
    (mount,) = snapshotter.mounts(key)
    options = dict(option.split("=", 1) for option in mount.options if "=" in option)
    names = {str(Path(snapshotter.root, "snapshots", str(i.id), "fs")): i for i in snapshotter.walk()}

    def where(path: str) -> str:
        info = names.get(path)
        relative = str(Path(path).relative_to(snapshotter.root))
        return f"{relative}\n{_short(info.name)}" if info else relative

    graph = digraph("overlay", rankdir="LR")
    graph.node("merged", f"{target}\nmount -t {mount.type}", fillcolor=COLORS["kernel"])
    if mount.type == "bind":
        graph.node("source", f"bind mount of\n{where(mount.source)}", fillcolor=COLORS["data"])
        graph.edge("source", "merged")
        return graph
    if "upperdir" in options:
        graph.node("upper", f"upperdir (writes land here)\n{where(options['upperdir'])}", fillcolor="white")
        graph.node("work", f"workdir (scratch)\n{where(options['workdir'])}", fillcolor="white", style="rounded,dashed")
        graph.edge("upper", "merged", label="read-write")
        graph.edge("work", "merged", style="dashed")
    with graph.subgraph(name="cluster_lower") as lower:
        lower.attr(label="lowerdir (read-only, top first)", fontname="Helvetica", fontsize="10", style="rounded")
        for n, path in enumerate(options["lowerdir"].split(":")):
            lower.node(f"lower{n}", where(path), fillcolor=COLORS["data"])
            graph.edge(f"lower{n}", "merged")
    return graph
