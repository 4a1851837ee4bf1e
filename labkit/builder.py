"""Build OCI images from files, and push them to a registry.

This is how the lab makes its seed images without the internet, and how tests make
images with exactly the layers they need. It is the inverse of a pull, and small on
purpose:

1. ``layer(entries)`` writes a tar from a list of ``Entry`` and compresses it; the
   DiffID is the sha256 of the uncompressed tar (OCI image spec, config.md: "layer
   DiffID"), the digest that of the bytes as stored.
2. ``image(layers, config, platform)`` adds the config blob (with ``rootfs.diff_ids``)
   and the manifest that points at config and layers (image spec, manifest.md).
3. ``index(images)`` lists several manifests with their platforms (image-index.md).
4. ``push(registry, repository, tag, artifact)`` uploads every blob, then the
   manifests, then tags the top one (distribution spec, "Pushing blobs" and
   "Pushing manifests").

Everything is deterministic (fixed times, gzip without a timestamp), so the same
files always give the same digests and pushing twice changes nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import httpx
import zstandard

from .errors import InvalidArgument, Unavailable

__all__ = [
    "Entry",
    "Blob",
    "Layer",
    "BuiltImage",
    "BuiltIndex",
    "MEDIA_TYPES",
    "layer",
    "image",
    "index",
    "push",
]

#: media types by format: OCI (image-spec) or Docker (schema 2), as registries know them.
MEDIA_TYPES = {
    "oci": {
        "manifest": "application/vnd.oci.image.manifest.v1+json",
        "index": "application/vnd.oci.image.index.v1+json",
        "config": "application/vnd.oci.image.config.v1+json",
        "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
        "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
        "none": "application/vnd.oci.image.layer.v1.tar",
    },
    "docker": {
        "manifest": "application/vnd.docker.distribution.manifest.v2+json",
        "index": "application/vnd.docker.distribution.manifest.list.v2+json",
        "config": "application/vnd.docker.container.image.v1+json",
        "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    },
}

#: a fixed instant for every time stamp, so that builds are reproducible (containerd 1.0's month).
EPOCH = 1512086400  # 2017-12-01T00:00:00Z
CREATED = "2017-12-01T00:00:00Z"


@dataclass(frozen=True)
class Entry:
    """One member of a layer tar. ``kind``: file, dir, symlink, hardlink, chardev, fifo.

    ``path`` is written as given, so tests can make hostile names (``../x``, ``/etc/x``).
    ``link`` is a symlink's target or a hardlink's target path inside the archive.
    """

    path: str
    kind: str = "file"
    data: bytes = b""
    mode: int | None = None
    link: str = ""
    uid: int = 0
    gid: int = 0
    xattrs: dict[str, str] = field(default_factory=dict)


_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chardev": tarfile.CHRTYPE,
    "fifo": tarfile.FIFOTYPE,
}
_DEFAULT_MODES = {"dir": 0o755, "symlink": 0o777}


@dataclass(frozen=True)
class Blob:
    """Bytes and the descriptor that names them (image spec, descriptor.md)."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    @property
    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class Layer(Blob):
    """A layer blob, plus the DiffID of its uncompressed tar."""

    diff_id: str = ""


@dataclass(frozen=True)
class BuiltImage:
    """A manifest with its config and layers: everything one platform needs."""

    manifest: Blob
    config: Blob
    layers: tuple[Layer, ...]
    platform: dict

    @property
    def blobs(self) -> list[Blob]:
        return [*self.layers, self.config]


@dataclass(frozen=True)
class BuiltIndex:
    """An index (or Docker manifest list) over several images."""

    manifest: Blob
    images: tuple[BuiltImage, ...]


def _tar(entries: Iterable[Entry]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.type = _TAR_TYPES[entry.kind]
            info.mode = entry.mode if entry.mode is not None else _DEFAULT_MODES.get(entry.kind, 0o644)
            info.uid, info.gid, info.mtime = entry.uid, entry.gid, EPOCH
            info.linkname = entry.link
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in entry.xattrs.items()}
            if entry.kind == "file":
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def layer(entries: Iterable[Entry], *, compression: str = "gzip", fmt: str = "oci") -> Layer:
    """Write ``entries`` into a tar, compress it (gzip, zstd or none) and name it by digest."""
    media_types = MEDIA_TYPES[fmt]
    if compression not in media_types:
        raise InvalidArgument(f"{fmt} images have no {compression!r} layer media type")
    tar = _tar(entries)
    data = {
        "gzip": lambda: gzip.compress(tar, compresslevel=6, mtime=0),
        "zstd": lambda: zstandard.ZstdCompressor().compress(tar),
        "none": lambda: tar,
    }[compression]()
    return Layer(media_types[compression], data, diff_id="sha256:" + hashlib.sha256(tar).hexdigest())


def image(
    layers: Sequence[Layer],
    config: dict,
    *,
    platform: dict | None = None,
    fmt: str = "oci",
) -> BuiltImage:
    """A manifest over ``layers`` with a config built from ``config`` (the image's runtime
    defaults: Env, Cmd, Entrypoint, WorkingDir, User, Labels)."""
    platform = platform or {"os": "linux", "architecture": "amd64"}
    media_types = MEDIA_TYPES[fmt]
    config_json = {
        "created": CREATED,
        **platform,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": CREATED, "created_by": "labkit.lab.builder"} for _ in layers],
    }
    config_blob = Blob(media_types["config"], _json(config_json))
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_types["manifest"],
        "config": config_blob.descriptor,
        "layers": [layer.descriptor for layer in layers],
    }
    return BuiltImage(Blob(media_types["manifest"], _json(manifest)), config_blob, tuple(layers), platform)


def index(images: Sequence[BuiltImage], *, fmt: str = "oci") -> BuiltIndex:
    """An index listing each image's manifest with its platform (image-index.md)."""
    media_type = MEDIA_TYPES[fmt]["index"]
    body = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [{**i.manifest.descriptor, "platform": i.platform} for i in images],
    }
    return BuiltIndex(Blob(media_type, _json(body)), tuple(images))


def push(registry: str, repository: str, tag: str, artifact: BuiltImage | BuiltIndex, *, plain_http: bool = True) -> str:
    """Upload ``artifact`` as ``registry/repository:tag`` and return the top manifest's digest.

    Blobs the registry already has are skipped (a ``HEAD`` first), so pushing again is cheap.
    """
    images = artifact.images if isinstance(artifact, BuiltIndex) else (artifact,)
    base = f"{'http' if plain_http else 'https'}://{registry}/v2/{repository}"
    try:
        with httpx.Client(timeout=60) as client:
            for img in images:
                for blob in img.blobs:
                    _push_blob(client, base, blob)
                if isinstance(artifact, BuiltIndex):
                    _put_manifest(client, base, img.manifest.digest, img.manifest)
            _put_manifest(client, base, tag, artifact.manifest)
    except httpx.TransportError as err:
        raise Unavailable(f"cannot push to registry {registry}: {err}") from err
    return artifact.manifest.digest


def _push_blob(client: httpx.Client, base: str, blob: Blob) -> None:
    if client.head(f"{base}/blobs/{blob.digest}").status_code == 200:
        return
    started = client.post(f"{base}/blobs/uploads/")
    _check(started, 202)
    location = httpx.URL(base).join(started.headers["Location"])
    done = client.put(location.copy_merge_params({"digest": blob.digest}), content=blob.data,
                      headers={"Content-Type": "application/octet-stream"})
    _check(done, 201)


def _put_manifest(client: httpx.Client, base: str, reference: str, manifest: Blob) -> None:
    response = client.put(f"{base}/manifests/{reference}", content=manifest.data,
                          headers={"Content-Type": manifest.media_type})
    _check(response, 201)


def _check(response: httpx.Response, expected: int) -> None:
    if response.status_code != expected:
        raise Unavailable(f"registry answered {response.status_code} to {response.request.method} "
                          f"{response.request.url.path}: {response.text.strip()[:200]}")


def _json(value: dict) -> bytes:
    return json.dumps(value, indent=2, sort_keys=False).encode()
