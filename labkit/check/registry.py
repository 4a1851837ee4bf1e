"""Checks for notebook 05 (talking to a registry)."""

from __future__ import annotations

import json
from typing import Any

from ..descriptor import Descriptor
from ..images import select_manifest
from ..paths import registry_address
from ..platforms import Platform
from ..reference import Reference
from ..remotes import Registry
from . import hint, passed

__all__ = ["arm64_config"]


class _Buffer:
    """A ``remotes.BlobWriter`` in memory: small blobs only (a config)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.offset = 0

    def write(self, data: bytes) -> None:
        self.data += data
        self.offset += len(data)


def _expected(platform: Platform) -> dict[str, Any]:
    """The config of ``lab/multiarch`` for ``platform``, fetched the way the exercise asks."""
    ref = Reference.parse(f"{registry_address()}/lab/multiarch:latest")
    with Registry(ref.api_host, plain_http=True) as registry:
        index = json.loads(registry.fetch_manifest(ref.path, registry.resolve(ref)))
        manifest = json.loads(registry.fetch_manifest(ref.path, select_manifest(index, platform)))
        config = Descriptor.from_dict(manifest["config"])
        buffer = _Buffer()
        registry.fetch_blob(ref.path, config, buffer)
        return json.loads(buffer.data)


def arm64_config(answer: Any) -> bool:
    """``answer``: the image config (a dict) of ``lab/multiarch``'s ``linux/arm64`` manifest, fetched by hand."""
    if not isinstance(answer, dict):
        return hint(f"answer with the config as a dict (json.loads of the blob's bytes), not a {type(answer).__name__}")
    if "manifests" in answer:
        return hint("that is the index: pick its entry whose platform is linux/arm64 and fetch that manifest")
    if "layers" in answer:
        return hint("that is a manifest: its config descriptor names the blob to fetch next, by digest")
    if answer == _expected(Platform.parse("linux/arm64")):
        return passed("index → arm64 manifest → config, each found by digest: that is what a pull does")
    if answer.get("architecture") != "arm64":
        return hint(f"this config is for {answer.get('architecture')!r}: you took the wrong index entry "
                    "(compare each entry's platform['architecture'], not its position)")
    return hint("this is not the config blob the arm64 manifest names: fetch /v2/lab/multiarch/blobs/<config digest>")
