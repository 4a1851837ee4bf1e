"""Apply one layer tar to a directory, safely, with the OCI rules.

A layer is a tar of *changes* (OCI image spec, layer.md, "Change Types"): entries add
or replace paths, and whiteouts delete what lower layers made. Applying it is where
container tools have had their worst bugs (CVE-2018-15664, CVE-2019-14271,
CVE-2021-30465, CVE-2024-21626 among them), so this package follows a few rules
strictly (reference.md, "Unpacking safely"; ``_root`` resolves names, ``_apply``
knows the rules):

* Every entry's parent directory is resolved here, component by component, inside
  the root. A symlink met on the way is re-rooted: an absolute target starts again at
  the root and ``..`` stops at the root, so no name can leave it.
* The kernel never follows a symlink for us: files are created with ``O_EXCL |
  O_NOFOLLOW`` relative to a directory descriptor opened with ``O_NOFOLLOW``, and
  ``chown``/``chmod``/``utime`` are the ``AT_SYMLINK_NOFOLLOW`` variants.
* Symlinks are stored verbatim (they only hurt when followed); hardlink targets are
  resolved inside the root like any other name.
* Device nodes are created only by real root, never inside a user namespace.

While the tar streams through, its bytes are hashed: the sha256 of the uncompressed
tar is the layer's DiffID (image spec, config.md, ``rootfs.diff_ids``), checked
against the one the image config promised. And they are counted: a layer that would
expand past its bound (``_bound``: a multiple of its compressed size, and never into
the free space the lab leaves) is stopped with one line naming it.
"""

from __future__ import annotations

import gzip
import hashlib
import tarfile
import zlib
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

from ..errors import DataCorrupted, InvalidArgument, NotFound, disk_error
from ._apply import OPAQUE, WHITEOUT_PREFIX, Applier
from ._bound import Bound

__all__ = ["LAYER_MEDIA_TYPES", "WHITEOUT_PREFIX", "OPAQUE", "open_layer", "apply_layer"]

#: layer media type -> compression (image spec, media-types.md; Docker's image manifest v2 schema 2)
LAYER_MEDIA_TYPES: dict[str, str | None] = {
    "application/vnd.oci.image.layer.v1.tar": None,
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
}

_BUFFER = 1 << 20  # read and write a megabyte at a time: a layer is streamed, never held in memory
_READ_ERRORS: tuple[type[Exception], ...] = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def _zstandard() -> ModuleType:
    """The zstandard module, imported when a zstd layer is read: ``import labkit`` (and ``labkit doctor``,
    which must run on a host where nothing is installed yet) needs only the standard library."""
    import zstandard

    return zstandard


def _read_errors(compression: str | None) -> tuple[type[Exception], ...]:
    """What reading a malformed layer raises: tarfile's and the decompressor's errors."""
    return (*_READ_ERRORS, _zstandard().ZstdError) if compression == "zstd" else _READ_ERRORS


def open_layer(blob: Path, media_type: str) -> BinaryIO:
    """The uncompressed tar stream of a layer blob, read lazily from the file."""
    if media_type not in LAYER_MEDIA_TYPES:
        raise InvalidArgument(f"unsupported layer media type {media_type!r}")
    if not blob.is_file():
        raise NotFound(f"layer blob {blob} not found")
    compression = LAYER_MEDIA_TYPES[media_type]
    if compression == "gzip":
        return gzip.open(blob, "rb")  # type: ignore[return-value]
    raw = open(blob, "rb", buffering=_BUFFER)  # noqa: SIM115 — returned open: the caller reads it and closes it
    if compression == "zstd":
        return _zstandard().ZstdDecompressor().stream_reader(raw, read_size=_BUFFER)
    return raw


class _Digester:
    """A reader that hashes every byte that passes through it, and holds their number to ``bound``."""

    def __init__(self, stream: BinaryIO, bound: Bound) -> None:
        self._stream = stream
        self._sha = hashlib.sha256()
        self._bound = bound
        self._size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._sha.update(data)
        self._size += len(data)
        self._bound.check(self._size, "tar")
        return data

    def digest(self) -> str:
        """The digest of the whole stream: whatever tarfile left unread (end padding) is read first."""
        while self.read(_BUFFER):
            pass
        return "sha256:" + self._sha.hexdigest()


def apply_layer(target: Path, blob: Path, media_type: str, diff_id: str | None = None, *,
                lowers: list[Path] | None = None) -> str:
    """Apply the layer in ``blob`` to the directory ``target`` and return its DiffID.

    With ``lowers`` (the directories of the layers below, nearest first; maybe none)
    the target is an overlayfs upper directory: whiteouts are not carried out but
    written in overlay's own form (a 0/0 character device for ``.wh.NAME``, the
    ``trusted.overlay.opaque=y`` xattr for an opaque directory; kernel docs,
    filesystems/overlayfs.rst, "whiteouts and opaque directories"), and a hardlink to
    a lower layer's file first copies that file up (containerd, archive ``WithParents``).
    Raises InvalidArgument for a malformed or hostile archive (a decompression bomb
    included), FailedPrecondition when the disk has no room for it, and DataCorrupted
    when the DiffID is not ``diff_id``. What a failed layer wrote stays: the caller
    removes its snapshot or directory (``snapshots.unpack``, ``snapshots.apply_layers``).
    """
    with open_layer(blob, media_type) as stream:
        bound = Bound(blob.name, blob.stat().st_size, target)
        digester = _Digester(stream, bound)
        applier = Applier(target, lowers, bound)
        try:
            with tarfile.open(fileobj=digester, mode="r|", bufsize=_BUFFER) as tar:  # type: ignore[call-overload]
                for member in tar:
                    applier.apply(member, tar)
            applier.finish()
            actual = digester.digest()
        except _read_errors(LAYER_MEDIA_TYPES[media_type]) as err:
            raise InvalidArgument(f"layer {blob.name} is not a valid {media_type} archive: {err}") from None
        except OSError as err:  # only the disk's errors get here (Applier.apply turns the rest into InvalidArgument)
            raise disk_error(err, f"applying layer {blob.name} to {target}") from None
        finally:
            applier.close()
    if diff_id is not None and actual != diff_id:
        raise DataCorrupted(f"layer {blob.name} has DiffID {actual}, the image config says {diff_id}")
    return actual
