"""Descriptors: how one piece of content points at another (OCI image spec, descriptor.md).

A descriptor names a blob by three facts that a reader can check: its media type
(what kind of thing it is), its digest (``algorithm:hex`` of its exact bytes) and its
size in bytes. Manifests point at configs and layers by descriptors, indexes at
manifests; a registry resolves a tag to one. Content found by digest is trusted only
after its bytes hash to that digest (descriptor.md: "Digests").

The documents made of descriptors (an index, a manifest) and the image config they
lead to come from a registry too, so ``check_document`` reads them as untrusted JSON:
an object, no larger than ``MAX_MANIFEST_SIZE``, with fields of the spec's types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
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
    "check_document",
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
#: config.md, "config": the fields labkit reads, and the JSON type each must have (None: may be null)
_PROCESS_FIELDS: dict[str, tuple[type, ...]] = {
    "Env": (list, type(None)), "Entrypoint": (list, type(None)), "Cmd": (list, type(None)),
    "WorkingDir": (str,), "User": (str,), "StopSignal": (str,), "Labels": (dict, type(None)),
}  # fmt: skip


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
        shown = repr(digest[:80])  # registry data: quoted, so that a message stays one line
        if not isinstance(media_type, str):
            raise InvalidArgument(f"invalid descriptor {shown}: mediaType is a JSON {json_kind(media_type)}")
        if type(size) is not int or not 0 <= size <= _MAX_SIZE:
            raise InvalidArgument(f"invalid descriptor {shown}: size {repr(size)[:40]} is not an int64 >= 0")
        if annotations is not None and not (
            isinstance(annotations, Mapping) and all(isinstance(v, str) for v in annotations.values())
        ):
            raise InvalidArgument(f"invalid descriptor {shown}: annotations must map strings to strings")
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


def _check_manifest(manifest: dict, what: str) -> None:
    """manifest.md: ``config`` is a descriptor and ``layers`` an array of them."""
    if "config" not in manifest:
        raise InvalidArgument(f"{what} has no config")
    Descriptor.from_dict(manifest["config"])
    descriptors(manifest, "layers", what)


def _check_config(config: dict, what: str) -> None:
    """config.md: ``rootfs.diff_ids`` an array of digests; ``os``, ``architecture`` strings; ``config`` an object."""
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(diff_id, str) for diff_id in diff_ids):
        raise InvalidArgument(f"{what}: rootfs.diff_ids is not an array of digests")
    for diff_id in diff_ids:
        split_digest(diff_id)
    for key in ("os", "architecture"):
        if not isinstance(config.get(key, ""), str):
            raise InvalidArgument(f"{what}: {key} is a JSON {json_kind(config[key])}, not a string")
    process = config.get("config") or {}
    if not isinstance(process, dict):
        raise InvalidArgument(f"{what}: config is a JSON {json_kind(process)}, not an object")
    for key, kinds in _PROCESS_FIELDS.items():
        value = process.get(key, kinds[0]())
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        if not isinstance(value, kinds) or not all(isinstance(item, str) for item in items):
            raise InvalidArgument(f"{what}: config.{key} is not what config.md says it is")


#: what each kind of document must hold, checked once it is known to be a JSON object
_CHECKS: dict[str, Callable[[dict, str], object]] = {
    "index": lambda index, what: descriptors(index, "manifests", what),
    "manifest": _check_manifest,
    "config": _check_config,
}


def check_document(data: bytes, kind: str, digest: str) -> dict:
    """``data`` as the ``kind`` of document it should be (``index``, ``manifest``, ``config``), checked.

    The digest proves only that the bytes are what the registry meant to send; this checks
    that they are a JSON object with the fields labkit reads, of the types the image spec
    gives them (image-index.md, manifest.md, config.md), before anything is committed.
    """
    what = f"{kind} {digest}"
    document = load_json(data, what)
    _CHECKS[kind](document, what)
    return document
