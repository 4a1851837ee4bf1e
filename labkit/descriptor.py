"""Descriptors: how one piece of content points at another (OCI image spec, descriptor.md).

A descriptor names a blob by three facts that a reader can check: its media type
(what kind of thing it is), its digest (``algorithm:hex`` of its exact bytes) and its
size in bytes. Manifests point at configs and layers by descriptors, indexes at
manifests; a registry resolves a tag to one. Content found by digest is trusted only
after its bytes hash to that digest (descriptor.md: "Digests").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidArgument
from .platforms import Platform

__all__ = [
    "Descriptor",
    "split_digest",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "DOCKER_MANIFEST",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
#: media types that list manifests, one per platform
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
#: media types of one platform's manifest (config + layers)
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

# descriptor.md, "Digests": algorithm ":" encoded; sha256 is 64 lowercase hex, sha512 is 128.
_DIGEST = re.compile(r"(?P<algorithm>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<encoded>[a-zA-Z0-9=_-]+)")
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[0-9a-f]+")


def split_digest(digest: str) -> tuple[str, str]:
    """``"sha256:ab…"`` → ``("sha256", "ab…")``, checked against descriptor.md's registered algorithms."""
    match = _DIGEST.fullmatch(digest)
    if not match:
        raise InvalidArgument(f"invalid digest {digest!r}: expected ALGORITHM:HEX")
    algorithm, encoded = match["algorithm"], match["encoded"]
    if algorithm not in _HEX_LENGTH:
        raise InvalidArgument(f"unsupported digest algorithm {algorithm!r} in {digest!r} (sha256 or sha512)")
    if len(encoded) != _HEX_LENGTH[algorithm] or not _HEX.fullmatch(encoded):
        digits = _HEX_LENGTH[algorithm]
        raise InvalidArgument(f"invalid digest {digest!r}: {algorithm} needs {digits} lowercase hex digits")
    return algorithm, encoded


@dataclass(frozen=True)
class Descriptor:
    """One content descriptor: ``mediaType``, ``digest``, ``size`` and the optional fields labkit uses."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        split_digest(self.digest)
        if self.size < 0:
            raise InvalidArgument(f"descriptor {self.digest}: negative size {self.size}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Descriptor:
        """Read a descriptor as JSON holds it (``mediaType``, ``digest``, ``size``, ``platform``, ``annotations``)."""
        try:
            platform = data.get("platform")
            return cls(
                media_type=data["mediaType"],
                digest=data["digest"],
                size=int(data["size"]),
                platform=Platform.from_dict(platform) if platform else None,
                annotations=data.get("annotations"),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidArgument(f"invalid descriptor {dict(data)!r}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        """The descriptor as JSON holds it; the inverse of ``from_dict``."""
        data: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            data["platform"] = self.platform.to_dict()
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        return data
