"""The event journal: ``<root>/events.jsonl``, how events cross processes.

containerd keeps its exchange in one daemon's memory; labkit has no daemon (a task
started from the command line outlives the command), so every publisher appends its
envelopes to one file and every subscriber follows that file, as ``tail -f`` does:

- ``append`` takes an exclusive ``flock`` on the file, stamps the envelope (so the
  file's order is the timestamps' order) and writes one whole line with ``O_APPEND``;
  several processes can publish at once and no line is ever interleaved.
- An append is all or nothing. A write that fails part-way (ENOSPC: the disk filled up)
  is cut off again (``ftruncate`` to where the line began) and the publisher is told, in
  one line; a line torn by a writer that died mid-write (``kill -9``: under the lock,
  nobody else can be writing it) is cut away by the next append, with a warning.
- ``Tail`` remembers a byte offset and reads the lines after it. It sleeps in
  ``poll()`` on an **inotify** watch of the file (``inotify(7)``, through ``ctypes``),
  so a waiting subscriber costs no CPU and wakes within microseconds of a write.
  Only complete lines are handed out: a line still being written is read again, from
  its start, once its newline arrives, so nothing is lost or read twice, even when a
  failed write was cut away and a new line took its place.
- A line that is not an envelope (a journal written by hand, or by an older labkit
  that left torn lines) is skipped with a warning: one bad line never stops a reader.

So a subscriber in another process wakes as soon as a line is written, and one waiting
with nothing to read uses no CPU (tests/events/test_event_exchange.py checks both).
"""

from __future__ import annotations

import ctypes
import fcntl
import math
import os
import select
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument, PermissionDenied, Unavailable, disk_error
from ..timestamps import now
from .envelope import Envelope

__all__ = ["Journal", "Tail"]

_IN_MODIFY = 0x00000002  # <sys/inotify.h>: the file was written
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_libc = ctypes.CDLL(None, use_errno=True)


class Journal:
    """The append-only file of every envelope published under one lab root."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self, flags: int) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, flags | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except PermissionError:
            raise PermissionDenied(f"cannot open the event journal {self.path}: permission denied") from None

    def append(self, namespace: str, topic: str, event: dict[str, Any]) -> Envelope:
        """Stamp and write one envelope under an exclusive lock, whole or not at all; return it."""
        fd = self._open(os.O_RDWR | os.O_APPEND)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            start = _cut_torn_tail(fd, self.path)
            envelope = Envelope(now(), namespace, topic, event)
            data = (envelope.to_json() + "\n").encode()
            try:
                while data:
                    data = data[os.write(fd, data) :]
            except OSError as err:
                os.ftruncate(fd, start)  # what part of the line got written goes again: no torn line
                raise disk_error(err, f"writing {topic} to the event journal {self.path}") from None
            return envelope
        finally:
            os.close(fd)  # closing the file releases the lock

    def end(self) -> int:
        """The current size, read under a shared lock so that it never falls inside a line."""
        fd = self._open(os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def read(self) -> Iterator[Envelope]:
        """Every envelope written so far, oldest first (read under a shared lock)."""
        with os.fdopen(self._open(os.O_RDONLY), "rb") as file:
            fcntl.flock(file, fcntl.LOCK_SH)
            data = file.read()
        offset = 0
        for line in data.splitlines():
            offset += len(line) + 1
            if (envelope := _parse(line, self.path, offset)) is not None:
                yield envelope


def _cut_torn_tail(fd: int, path: Path) -> int:
    """Cut off a last line with no newline (its writer died mid-write); return where the next line starts."""
    end = os.fstat(fd).st_size
    if end == 0 or os.pread(fd, 1, end - 1) == b"\n":
        return end
    start = end
    while start > 0 and (newline := os.pread(fd, min(start, 4096), max(0, start - 4096)).rfind(b"\n")) < 0:
        start = max(0, start - 4096)
    if start > 0:
        start = max(0, start - 4096) + newline + 1
    os.ftruncate(fd, start)
    warnings.warn(f"{path}: cut away a torn last line ({end - start} bytes) left by a writer that died",
                  RuntimeWarning, stacklevel=3)  # fmt: skip
    return start


def _parse(line: bytes, path: Path, end: int) -> Envelope | None:
    """The envelope on one line; None, with a warning, for a line that is not one (it is skipped)."""
    try:
        return Envelope.from_json(line)
    except (InvalidArgument, ValueError):
        warnings.warn(f"{path}: the line ending at byte {end} is not an event envelope; skipped",
                      RuntimeWarning, stacklevel=3)  # fmt: skip
        return None


def _close(file: Any, fds: list[int]) -> None:
    file.close()
    for fd in fds:
        os.close(fd)


class Tail:
    """Follows a journal from a byte offset: ``read()`` what is there, ``wait()`` for more."""

    def __init__(self, journal: Journal, offset: int) -> None:
        self.journal = journal
        self.offset = offset
        self._file = os.fdopen(journal._open(os.O_RDONLY), "rb", buffering=0)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._inotify = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        fds = [fd for fd in (self._inotify, self._wake_r, self._wake_w) if fd >= 0]
        # a Tail nobody closed still gives its descriptors back when it is garbage-collected
        self._closer = weakref.finalize(self, _close, self._file, fds)
        if self._inotify < 0 or _libc.inotify_add_watch(self._inotify, os.fsencode(journal.path), _IN_MODIFY) < 0:
            errno = ctypes.get_errno()
            self.close()
            raise Unavailable(f"cannot watch {journal.path} with inotify: {os.strerror(errno)}")

    def read(self) -> list[Envelope]:
        """The complete lines written since the last read, as envelopes.

        Read from ``offset`` every time, the start of the first line not yet handed out:
        an unfinished line is read again once it is whole (or cut away, and replaced).
        """
        self._file.seek(self.offset)
        *lines, _unfinished = (self._file.read() or b"").split(b"\n")
        envelopes = []
        for line in lines:
            self.offset += len(line) + 1
            if (envelope := _parse(line, self.journal.path, self.offset)) is not None:
                envelopes.append(envelope)
        return envelopes

    def wait(self, timeout: float | None) -> None:
        """Sleep until the journal is written, ``interrupt()`` is called or ``timeout`` seconds pass."""
        poller = select.poll()
        poller.register(self._inotify, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        poller.poll(None if timeout is None else max(0, math.ceil(timeout * 1000)))  # poll(2)'s unit: 1/1000 s
        for fd in (self._inotify, self._wake_r):  # drain, so the next poll sleeps again
            try:
                while os.read(fd, 4096):
                    pass
            except BlockingIOError:
                pass

    def interrupt(self) -> None:
        """Wake a thread sleeping in ``wait()`` (safe from any thread)."""
        os.write(self._wake_w, b"!")

    def close(self) -> None:
        """Release the file and descriptors (idempotent)."""
        self._closer()

    def __enter__(self) -> Tail:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
