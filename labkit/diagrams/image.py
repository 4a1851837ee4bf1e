"""An image as a graph of content (notebook 05): name → index → manifests → config and layers.

Every node is drawn from a real descriptor: its media type, the first hex digits of
its digest and its size. A pulled image's own path is solid; the other platforms an
index lists, which the pull did not fetch, are dashed (OCI image spec, image-index.md).
"""

from __future__ import annotations

import json

import graphviz

from ..descriptor import Descriptor
from ..images import Image
from ._style import COLORS, digraph

__all__ = ["image_graph"]


def _short(desc: Descriptor) -> str:
    algorithm, _, encoded = desc.digest.partition(":")
    return f"{algorithm}:{encoded[:12]}"


def _kind(media_type: str) -> str:
    """``application/vnd.oci.image.layer.v1.tar+gzip`` → ``oci layer.v1.tar+gzip``: short enough for a box."""
    vendor = "docker" if ".docker." in media_type else "oci"
    tail = media_type.rsplit("/", 1)[-1].removeprefix("vnd.oci.image.").removeprefix("vnd.docker.")
    return f"{vendor} {tail.removeprefix('distribution.')}"


def _label(title: str, desc: Descriptor, *extra: str) -> str:
    return "\n".join([title, _kind(desc.media_type), _short(desc), f"{desc.size} bytes", *extra])


def image_graph(image: Image) -> graphviz.Digraph:
    """The content graph of ``image``, top to bottom, from the descriptors in its content store."""
    graph = digraph("image")
    graph.attr("node", fillcolor=COLORS["data"])
    graph.node("name", image.name, shape="note", fillcolor="white")
    top = image.manifest_descriptor
    if image.target != top:
        graph.node("index", _label("index", image.target))
        graph.edge("name", "index")
        index = json.loads(image.store.read(image.target.digest))
        for n, entry in enumerate(map(Descriptor.from_dict, index["manifests"])):
            if entry.digest != top.digest:
                graph.node(f"other{n}", _label(f"manifest {entry.platform}", entry), style="rounded,dashed")
                graph.edge("index", f"other{n}", style="dashed")
        graph.node("manifest", _label(f"manifest {top.platform}", top))
        graph.edge("index", "manifest")
    else:
        graph.node("manifest", _label("manifest", top))
        graph.edge("name", "manifest")
    config = Descriptor.from_dict(image.manifest["config"])
    process = image.config.get("config", {})
    command = " ".join([*(process.get("Entrypoint") or []), *(process.get("Cmd") or [])])  # config.md: Entrypoint + Cmd
    graph.node("config", _label("config", config, f"{image.config.get('os')}/{image.config.get('architecture')}",
                                f"cmd: {command or '-'}"))  # fmt: skip
    graph.edge("manifest", "config")
    for n, layer in enumerate(image.layers):
        graph.node(f"layer{n}", _label(f"layer {n}", layer))
        graph.edge("manifest", f"layer{n}")
    return graph
