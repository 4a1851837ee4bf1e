"""The content store: blobs kept by digest, written only once their bytes are proven.

containerd's content store, in miniature (design.md, "State on disk")::

    <root>/content/ingest/sha256-<hex>-<size>   a blob being written: what it must become, and how far it got
    <root>/content/blobs/sha256/<hex>           a committed blob: its bytes hash to its name

A ``Writer`` hashes the bytes as they stream in, refuses more bytes than promised,
and at ``commit`` fsyncs, checks size and digest, and links the ingest file into
``blobs/`` in one atomic step (reference.md, "Content store"). A blob whose digest
does not match is deleted, never committed, so a reader of ``blobs/`` can trust a
file by its name. Committing a blob that is already there changes nothing: of two
writers of the same blob, exactly one is told it is new.

The fsync is containerd's (``content/local/writer.go`` syncs the ingest file before
the rename): a committed blob is on disk. So that it is not a wait at the end of
every blob, the writer has the kernel start writing back as the bytes arrive.

An ingest outlives a pull that was killed (``kill -9``, a power cut of the laptop
lid): its name records the digest and size it was expected to have, its length how
many bytes arrived. The next writer of the same blob takes it over and goes on from
there, as containerd's local store resumes an ingest by its ref
(``content/local/store.go``, ``Writer`` and ``resumeHash``): it hashes the bytes that
are there, and the fetch asks only for the rest (``Range: bytes=N-``). A writer holds
an ``flock`` on its ingest file while it lives, so a second writer of the same blob
at the same moment writes a private copy instead, and a copy left behind by a dead
one is removed by the next writer. An exception aborts a writer and removes its file.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from .descriptor import split_digest
from .errors import DataCorrupted, NotFound, disk_error
from .paths import default_root

__all__ = ["Store", "Writer"]

#: bytes written between two requests to start writeback (a few per layer; each is one system call)
_WRITEBACK_STEP = 4 << 20
_SYNC_FILE_RANGE_WRITE = 2  # include/uapi/linux/fs.h: start writing the range back, do not wait
_libc = ctypes.CDLL(None)  # sync_file_range(2): Python's os module has no binding for it


def _lock(fd: int) -> bool:
    """Take the exclusive lock on an ingest file, if no living writer holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class Writer:
    """One blob being ingested; use it as a context manager (an exception aborts it).

    ``offset`` starts at the bytes an earlier, killed writer of the same blob left (the
    module docstring); they are hashed first, so that the digest covers the whole blob.
    """

    def __init__(self, store: Store, digest: str, size: int) -> None:
        self.algorithm, self._expected = split_digest(digest)
        self.digest, self.size, self.store = digest, size, store
        self.path = store.ingest_dir / f"{self.algorithm}-{self._expected}-{size}"
        try:
            store.ingest_dir.mkdir(parents=True, exist_ok=True)
            self._file = os.fdopen(self._take_over(), "r+b")
            self._hash = hashlib.new(self.algorithm)
            #: bytes written so far: where a resumed download starts (``Range: bytes=offset-``)
            self.offset = self._resume()
        except OSError as err:
            raise disk_error(err, f"starting to write blob {digest} in {store.ingest_dir}") from None
        self.resumed = self.offset  # bytes found in the ingest, from an earlier writer
        self._written_back = self.offset  # bytes the kernel was asked to start writing to disk

    def _take_over(self) -> int:
        """The ingest file, opened and locked; a private copy while another writer holds it."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            if not _lock(fd):  # a living writer has it: write beside it, as two writers did before
                os.close(fd)
                fd, name = tempfile.mkstemp(prefix=f"{self.path.name}.", dir=self.path.parent)
                _lock(fd)  # new, so free: locked to show it is alive
                self.path = Path(name)
                return fd
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:  # not the file of a writer that just committed
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        for copy in self.path.parent.glob(f"{self.path.name}.*"):  # private copies whose writer died
            with contextlib.suppress(FileNotFoundError), open(copy, "rb") as stale:
                if _lock(stale.fileno()):
                    copy.unlink()
        return fd

    def _resume(self) -> int:
        """Hash the bytes already in the ingest file (none if it is new, all gone if there are too many)."""
        if os.fstat(self._file.fileno()).st_size > self.size:
            self._file.truncate(0)
        offset = 0
        while chunk := self._file.read(_WRITEBACK_STEP):
            self._hash.update(chunk)
            offset += len(chunk)
        return offset

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
        try:
            self._file.write(data)
        except OSError as err:
            raise disk_error(err, f"writing blob {self.digest} to {self.path}") from None
        self.offset += len(data)
        if self.offset - self._written_back >= _WRITEBACK_STEP:
            self._file.flush()
            start, length = ctypes.c_int64(self._written_back), ctypes.c_int64(self.offset - self._written_back)
            _libc.sync_file_range(self._file.fileno(), start, length, _SYNC_FILE_RANGE_WRITE)
            self._written_back = self.offset

    def commit(self) -> bool:
        """Verify and move the blob into place; ``True`` if it is new, ``False`` if it was already there."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as err:
            raise disk_error(err, f"writing blob {self.digest} to {self.path}") from None
        actual = self._hash.hexdigest()
        if self.offset != self.size or actual != self._expected:
            self.abort()
            earlier = f", {self.resumed} of them left by an earlier pull" if self.resumed else ""
            raise DataCorrupted(
                f"blob {self.digest} is corrupt: its {self.offset} bytes{earlier} hash to {self.algorithm}:{actual} "
                f"(expected {self.size} bytes with the digest they are named by); not committed"
            )
        target = self.store.path(self.digest)
        try:  # atomic: readers see no blob or the whole blob, never a part
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(self.path, target)  # unlike rename, never replaces: one concurrent writer wins, once
        except FileExistsError:
            return False
        except OSError as err:
            raise disk_error(err, f"committing blob {self.digest} to {target}") from None
        finally:
            self.abort()  # the ingest name goes, then the lock: a writer that waited finds the blob committed
        return True

    def abort(self) -> None:
        """Throw the partial blob away (and let go of its lock)."""
        self.path.unlink(missing_ok=True)
        self._file.close()

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
