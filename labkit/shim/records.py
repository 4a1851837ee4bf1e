"""A process's records in its directory, and the kernel facts read to trust them.

Every process labkit supervises — a task's init, an exec'd one — has a directory::

    pid         its host pid, written by the runtime (``--pid-file``)
    shim.pid    the pid of its reaper: the shim, or the process that reaps it itself
    lock        the lifecycle lock (flock(2)) held while a milestone is done and published
    exit.json   its ``/tasks/exit`` payload, written once the event is out

The exit is recorded exactly once (:func:`record_exit`), by whoever reaps the process or,
when the reaper died first, by whoever notices (status 255, as containerd does for a dead shim).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import FailedPrecondition
from ..events import TASK_EXIT, Exchange
from ..timestamps import now
from .request import Request

__all__ = ["UNKNOWN_STATUS", "alive", "become_subreaper", "claim", "exit_status", "milestone_lock", "read_exit",
           "parent_of", "read_pid", "reaper_gone", "record_exit", "signal_reaped"]

#: containerd's exit status when the real one is lost (the reaper died first)
UNKNOWN_STATUS = 255
_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


@contextmanager
def milestone_lock(directory: Path) -> Iterator[None]:
    """Hold a process's lifecycle lock (``<dir>/lock``) while a milestone is done and published.

    A short-lived process can exit the instant ``runc start`` returns, before the caller
    has published ``/tasks/start``; its reaper takes this lock before publishing
    ``/tasks/exit``, so subscribers see start, then exit, as containerd's shim guarantees.
    """
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_pid(directory: Path) -> int:
    """The process's host pid, or 0 before the runtime has written it."""
    try:
        return int((directory / "pid").read_text())
    except (FileNotFoundError, ValueError):
        return 0


def read_exit(directory: Path) -> dict[str, Any] | None:
    """The recorded exit (the ``/tasks/exit`` payload), or None while the process has not been reaped."""
    try:
        record: dict[str, Any] = json.loads((directory / "exit.json").read_text())
        return record
    except FileNotFoundError:
        return None


def exit_status(wait_status: int) -> int:
    """A ``waitpid`` status as a shell and containerd report it: the code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def record_exit(request: Request, pid: int, status: int, exchange: Exchange) -> int:
    """Publish ``/tasks/exit``, then write ``exit.json``: exactly once per process; return the status recorded."""
    directory = request.directory
    with milestone_lock(directory):  # never before a /tasks/start or /tasks/exec-started still being published
        if (recorded := read_exit(directory)) is not None:  # recorded already, by a waiter that saw the reaper die
            return int(recorded["exit_status"])
        envelope = exchange.publish(TASK_EXIT, {"container_id": request.container_id, "id": request.id, "pid": pid,
                                                "exit_status": status, "exited_at": now()})
        # Recorded after it is published, so that whoever sees the record can rely on the event being out.
        (directory / "exit.json.tmp").write_text(json.dumps(envelope.event))
        os.replace(directory / "exit.json.tmp", directory / "exit.json")
    return status


def claim(directory: Path) -> None:
    """Write ``<dir>/shim.pid``: this process reaps the one recorded here, so a waiter can tell if it dies."""
    (directory / "shim.pid").write_text(str(os.getpid()))


def become_subreaper() -> None:
    """Make this process the parent of the runtime's orphans (prctl(2), ``PR_SET_CHILD_SUBREAPER``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise FailedPrecondition(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (proc(5)): state, ppid, ...; [] if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or between the open and the read (ESRCH)
        return []


def parent_of(pid: int) -> int:
    """The parent pid of ``pid`` (proc(5)), or 0 if it is gone."""
    stat = _stat(pid)
    return int(stat[1]) if stat else 0


def alive(pid: int) -> bool:
    """Is ``pid`` a live process (not gone, not a zombie waiting for its parent)?"""
    stat = _stat(pid)
    return bool(stat) and stat[0] != "Z"


def reaper_gone(directory: Path) -> bool:
    """Has the process that reaps this one (``<dir>/shim.pid``) died?"""
    try:
        return not alive(int((directory / "shim.pid").read_text()))
    except (FileNotFoundError, ValueError):
        return False


def signal_reaped(directory: Path, pid: int, signum: int) -> bool:
    """Signal ``pid`` if it is still the child of its reaper (``<dir>/shim.pid``); False if not (gone, or not known).

    kill(2) by pid alone could hit another process that got the pid once this one was
    reaped. Until then its reaper is its parent, and a reaper starts nothing after its
    process: so a pidfd opened first, then the parent checked, name the right process
    (pidfd_open(2), pidfd_send_signal(2)).
    """
    try:
        reaper = int((directory / "shim.pid").read_text())
        pidfd = os.pidfd_open(pid)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    try:
        if parent_of(pid) != reaper:
            return False
        signal.pidfd_send_signal(pidfd, signum)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)
