"""The lab's network (notebook 11), drawn from the live host: bridge, veth pairs, namespaces.

The host's network namespace holds the bridge ``labkit0`` (with the gateway address)
and one port per container, the host end ``lk…`` of a veth pair; the dashed edge is
the pair itself, crossing into the container's namespace, where the other end is
``eth0`` with the container's address. Everything is read from ``ip`` at the moment
of drawing (:func:`labkit.net.attachments`), so the picture is what the kernel has,
not what labkit meant to make.
"""

from __future__ import annotations

from collections.abc import Iterable

import graphviz

from .. import net
from ..paths import BRIDGE
from ._style import COLORS, digraph

__all__ = ["topology"]


def topology(container_ids: Iterable[str] | None = None) -> graphviz.Digraph:
    """Draw the bridge and the containers on it (only ``container_ids`` when given), by address."""
    wanted = None if container_ids is None else set(container_ids)
    attached = [a for a in net.attachments() if wanted is None or a.container_id in wanted]
    graph = digraph("network")
    with graph.subgraph(name="cluster_host") as host:
        host.attr(label="host: root network namespace", style="rounded", color="gray50")
        host.node("bridge", f"{BRIDGE}\nbridge {net.GATEWAY}", fillcolor=COLORS["supervisor"])
        for index, a in enumerate(attached):
            host.node(f"veth{index}", f"{a.host_veth}\nveth", fillcolor=COLORS["runtime"])
            host.edge("bridge", f"veth{index}", label="port", dir="none")
    for index, a in enumerate(attached):
        with graph.subgraph(name=f"cluster_c{index}") as box:
            box.attr(label=f"container {a.container_id}\nnetns {a.netns or '(unnamed)'}", style="rounded",
                     color="gray50")
            box.node(f"eth{index}", f"eth0\n{a.address}\ndefault via {a.gateway}", fillcolor=COLORS["kernel"])
        graph.edge(f"veth{index}", f"eth{index}", label="veth pair", dir="none", style="dashed")
    return graph
