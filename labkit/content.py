"""The content store: blobs kept by digest, written only once their bytes are proven.

containerd's content store, in miniature (design.md, "State on disk")::

    <root>/content/ingest/<hex>-<random>    a blob being written
    <root>/content/blobs/sha256/<hex>       a committed blob: its bytes hash to its name

A ``Writer`` hashes the bytes as they stream in, refuses more bytes than promised,
and at ``commit`` fsyncs, checks size and digest, and links the ingest file into
``blobs/`` in one atomic step (reference.md, "Content store"). A blob whose digest
does not match is deleted, never committed, so a reader of ``blobs/`` can trust a
file by its name. Committing a blob that is already there changes nothing: of two
writers of the same blob, exactly one is told it is new.

The fsync is containerd's (``content/local/writer.go`` syncs the ingest file before
the rename): a committed blob is on disk. So that it is not a wait at the end of
every blob, the writer has the kernel start writing back as the bytes arrive.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from .descriptor import split_digest
from .errors import DataCorrupted, NotFound
from .paths import default_root

__all__ = ["Store", "Writer"]

#: bytes written between two requests to start writeback (a few per layer; each is one system call)
_WRITEBACK_STEP = 4 << 20
_SYNC_FILE_RANGE_WRITE = 2  # include/uapi/linux/fs.h: start writing the range back, do not wait
_libc = ctypes.CDLL(None)  # sync_file_range(2): Python's os module has no binding for it


class Writer:
    """One blob being ingested; use it as a context manager (an exception aborts it)."""

    def __init__(self, store: Store, digest: str, size: int) -> None:
        self.algorithm, self._expected = split_digest(digest)
        self.digest, self.size, self.store = digest, size, store
        store.ingest_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{self._expected}-", dir=store.ingest_dir)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.new(self.algorithm)
        #: bytes written so far: where a resumed download starts (``Range: bytes=offset-``)
        self.offset = 0
        self._written_back = 0  # bytes the kernel was asked to start writing to disk

    def write(self, data: bytes) -> None:
        """Append ``data``; more bytes than the descriptor's size is corruption, caught at once.

        Every ``_WRITEBACK_STEP`` bytes, ``sync_file_range(2)`` with ``SYNC_FILE_RANGE_WRITE``
        queues the new bytes for writing to disk and returns: the disk works while the
        network does, and ``commit``'s fsync waits only for the last few megabytes. It is
        a hint, so its result is not checked; the fsync is what makes the blob durable.
        """
        if self.offset + len(data) > self.size:
            raise DataCorrupted(f"blob {self.digest}: more than its {self.size} bytes")
        self._hash.update(data)
        self._file.write(data)
        self.offset += len(data)
        if self.offset - self._written_back >= _WRITEBACK_STEP:
            self._file.flush()
            start, length = ctypes.c_int64(self._written_back), ctypes.c_int64(self.offset - self._written_back)
            _libc.sync_file_range(self._file.fileno(), start, length, _SYNC_FILE_RANGE_WRITE)
            self._written_back = self.offset

    def commit(self) -> bool:
        """Verify and move the blob into place; ``True`` if it is new, ``False`` if it was already there."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        actual = self._hash.hexdigest()
        if self.offset != self.size or actual != self._expected:
            self.path.unlink()
            raise DataCorrupted(
                f"blob {self.digest} is corrupt: its {self.offset} bytes hash to {self.algorithm}:{actual} "
                f"(expected {self.size} bytes with the digest they are named by); not committed"
            )
        target = self.store.path(self.digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:  # atomic: readers see no blob or the whole blob, never a part
            os.link(self.path, target)  # unlike rename, never replaces: one concurrent writer wins, once
        except FileExistsError:
            return False
        finally:
            self.path.unlink()
        return True

    def abort(self) -> None:
        """Throw the partial blob away."""
        self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is not None or not self._file.closed:
            self.abort()


class Store:
    """The blobs under ``<root>/content`` (``root``: the lab root, by default ``$LABKIT_ROOT``)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_root()) / "content"
        self.ingest_dir = self.root / "ingest"

    def path(self, digest: str) -> Path:
        """Where the committed blob ``digest`` lives (whether or not it exists yet)."""
        algorithm, encoded = split_digest(digest)
        return self.root / "blobs" / algorithm / encoded

    def exists(self, digest: str) -> bool:
        """Whether ``digest`` is committed."""
        return self.path(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        """Open a committed blob for reading; ``NotFound`` if it is not in the store."""
        try:
            return self.path(digest).open("rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the content store {self.root}") from None

    def read(self, digest: str) -> bytes:
        """A small committed blob (a manifest, a config) as bytes."""
        with self.open(digest) as blob:
            return blob.read()

    def writer(self, digest: str, size: int) -> Writer:
        """Start ingesting the blob ``digest`` of ``size`` bytes."""
        return Writer(self, digest, size)

    def delete(self, digest: str) -> None:
        """Remove a committed blob; ``NotFound`` if it is not there."""
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the content store {self.root}") from None
