"""Descriptors: how one piece of content points at another (OCI image spec, descriptor.md).

A descriptor names a blob by three facts that a reader can check: its media type
(what kind of thing it is), its digest (``algorithm:hex`` of its exact bytes) and its
size in bytes. Manifests point at configs and layers by descriptors, indexes at
manifests; a registry resolves a tag to one. Content found by digest is trusted only
after its bytes hash to that digest (descriptor.md: "Digests").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidArgument
from .platforms import Platform

__all__ = [
    "Descriptor",
    "split_digest",
    "load_json",
    "json_kind",
    "descriptors",
    "MAX_MANIFEST_SIZE",
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
#: descriptor.md, "size": an int64
_MAX_SIZE = (1 << 63) - 1
#: containerd, remotes/docker/resolver.go ``maxManifestSize``: the largest manifest, index or config it will
#: read (4 MiB). Real ones are a few KiB; the cap keeps a hostile registry from filling the memory.
MAX_MANIFEST_SIZE = 4 << 20


def json_kind(value: object) -> str:
    """What JSON calls ``value``'s type (``object``, ``array``, ...), for messages about registry data."""
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def load_json(data: bytes, what: str) -> dict[str, Any]:
    """``data`` parsed as a JSON object (a manifest, an index, a config); ``InvalidArgument`` naming ``what``.

    Registry data is untrusted, so every way Python's parser fails is one error: text that
    is not JSON or not UTF-8, nesting so deep that it hits the recursion limit, and an
    integer of more than 4300 digits (CPython's ``sys.get_int_max_str_digits`` guard).
    """
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise InvalidArgument(f"{what} is not valid JSON: {str(err)[:200]}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} is a JSON {json_kind(value)}, not an object")
    return value


def split_digest(digest: str) -> tuple[str, str]:
    """``"sha256:ab…"`` → ``("sha256", "ab…")``, checked against descriptor.md's registered algorithms."""
    shown = repr(digest if len(digest) <= 140 else digest[:140] + "...")  # registry data: maybe megabytes long
    match = _DIGEST.fullmatch(digest)
    if not match:
        raise InvalidArgument(f"invalid digest {shown}: expected ALGORITHM:HEX")
    algorithm, encoded = match["algorithm"], match["encoded"]
    if algorithm not in _HEX_LENGTH:
        raise InvalidArgument(f"unsupported digest algorithm {algorithm[:20]!r} in {shown} (sha256 or sha512)")
    if len(encoded) != _HEX_LENGTH[algorithm] or not _HEX.fullmatch(encoded):
        digits = _HEX_LENGTH[algorithm]
        raise InvalidArgument(f"invalid digest {shown}: {algorithm} needs {digits} lowercase hex digits")
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
    def from_dict(cls, data: object) -> Descriptor:
        """Read a descriptor as JSON holds it (``mediaType``, ``digest``, ``size``, ``platform``, ``annotations``).

        The JSON comes from a registry, so every field's type is checked (descriptor.md,
        "Properties"): ``mediaType`` and ``digest`` strings, ``size`` an int64 (not ``1e999``,
        not ``"12"``), ``platform`` an object, ``annotations`` a string map.
        """
        if not isinstance(data, Mapping):
            raise InvalidArgument(f"invalid descriptor: a JSON {json_kind(data)}, not an object")
        media_type, digest, size = data.get("mediaType"), data.get("digest"), data.get("size")
        platform, annotations = data.get("platform"), data.get("annotations")
        if not isinstance(digest, str):
            raise InvalidArgument(f"invalid descriptor: its digest is a JSON {json_kind(digest)}, not a string")
        if not isinstance(media_type, str):
            raise InvalidArgument(f"invalid descriptor {digest[:80]}: mediaType is a JSON {json_kind(media_type)}")
        if type(size) is not int or not 0 <= size <= _MAX_SIZE:
            raise InvalidArgument(f"invalid descriptor {digest[:80]}: size {str(size)[:40]} is not an int64 >= 0")
        if annotations is not None and not (
            isinstance(annotations, Mapping) and all(isinstance(v, str) for v in annotations.values())
        ):
            raise InvalidArgument(f"invalid descriptor {digest[:80]}: annotations must map strings to strings")
        return cls(media_type, digest, size, Platform.from_dict(platform) if platform else None, annotations)

    def to_dict(self) -> dict[str, Any]:
        """The descriptor as JSON holds it; the inverse of ``from_dict``."""
        data: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            data["platform"] = self.platform.to_dict()
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        return data


def descriptors(document: Mapping[str, Any], key: str, what: str) -> list[Descriptor]:
    """``document[key]``, a list of descriptors (a manifest's ``layers``, an index's ``manifests``)."""
    value = document.get(key)
    if not isinstance(value, list):
        raise InvalidArgument(f"{what}: {key!r} is a JSON {json_kind(value)}, not an array of descriptors")
    return [Descriptor.from_dict(item) for item in value]
