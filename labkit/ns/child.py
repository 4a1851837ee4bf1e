"""Children in new namespaces: how labkit unshares without ever moving the notebook.

``unshare(2)`` and ``setns(2)`` move the *calling* process, and a notebook's kernel
that moved into a new mount or network namespace would be stuck there. So
:func:`spawn` forks: the child joins or unshares namespaces, then calls a function
(which may exec a program); :func:`run` also brings the function's return value back
through a pipe. Three pipes order the dance between parent and child::

    ready   child -> parent   "here is the pid of the process that will run fn"
    go      parent -> child   "maps written, cgroup joined: run fn now"
    out     child -> parent   fn's stdout and stderr, when capture=True

PID and time namespaces take only the caller's *children* (man 7 pid_namespaces), so
with those the child forks once more and the grandchild, PID 1 of the new namespace,
runs the function.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import FailedPrecondition
from .calls import (
    CLONE_FLAGS,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWTIME,
    MS_PRIVATE,
    MS_REC,
    mount,
    namespaces,
    set_id_map,
    setns,
    unshare,
)

__all__ = ["Child", "spawn", "run"]

T = TypeVar("T")


def _pickled_exception(err: BaseException) -> bytes:
    """``err`` pickled to cross back to the parent (as a RuntimeError if it cannot be pickled)."""
    try:
        return pickle.dumps(err)
    except Exception:  # e.g. an exception holding an open file
        return pickle.dumps(RuntimeError(repr(err)))


def _exit_status(wait_status: int) -> int:
    """A waitpid status as a shell reports it: the exit code, or 128+N after signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


@dataclass
class Child:
    """A process started by :func:`spawn`; ``pid`` is the one running the function, as the host numbers it."""

    pid: int
    _waitee: int = field(repr=False)
    _go: int | None = field(repr=False)
    _out: int | None = field(repr=False)
    status: int | None = field(default=None, init=False)

    def _start(self) -> None:
        """Let the function run: it waits for this, so that the parent can first set maps, cgroups, ..."""
        assert self._go is not None, "started once only"
        os.write(self._go, b"1")
        os.close(self._go)
        self._go = None

    def output(self) -> str:
        """Everything the child wrote to stdout and stderr (``capture=True``), once it closes them."""
        if self._out is None:
            return ""
        with os.fdopen(self._out, "rb") as out:
            self._out = None
            return out.read().decode(errors="replace")

    def wait(self) -> int:
        """Wait for the child and return its exit status (128+N if signal N killed it)."""
        if self.status is None:
            self.status = _exit_status(os.waitpid(self._waitee, 0)[1])
        return self.status

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig``. As PID 1 of its namespace it ignores signals it has no handler for — but not SIGKILL."""
        if self.status is None:
            os.kill(self.pid, sig)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._go is not None:
            os.close(self._go)  # an unstarted child sees EOF and exits
            self._go = None
        if self.status is None:
            try:
                self.kill()
            except ProcessLookupError:
                pass
        self.wait()
        self.output()


def _join(pid: int) -> int:
    """Enter every namespace of ``pid`` that differs from ours, user first (the order nsenter uses).

    Returns the clone flags of the namespaces entered.
    """
    ours, theirs = namespaces(), namespaces(pid)
    entered = 0
    for kind in ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time"):
        if kind in theirs and theirs[kind] != ours[kind]:
            setns(f"/proc/{pid}/ns/{kind}", CLONE_FLAGS[kind])
            entered |= CLONE_FLAGS[kind]
    return entered


def _child_main(fn: Callable[[], object], flags: int, join: int | None,
                ready: int, go: int, out: int | None) -> None:
    """The child's side of :func:`spawn`; it never returns, it exits.

    Until it has reported its pid on ``ready``, a failure goes back on that pipe too
    (``!`` and the pickled exception), for :func:`spawn` to raise; after that, to stderr.
    """
    status = 1
    reported = False
    try:
        # The caller's objects stay where they are: a collection would write to all of them and copy
        # the caller's whole heap into the child (charged to the child's cgroup, if it has one).
        gc.freeze()
        # Our own streams on file descriptors 1 and 2, never the caller's (a notebook kernel's, with its buffers).
        sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 — our streams for the rest of this process
        entered = _join(join) if join is not None else 0
        unshare(flags)
        if flags & CLONE_NEWNS:
            # Stop our mounts from propagating back to the host (util-linux unshare does the same).
            mount("none", "/", None, MS_REC | MS_PRIVATE)
        if (flags | entered) & (CLONE_NEWPID | CLONE_NEWTIME):
            # New (or joined) PID and time namespaces hold our *children* only: fork (a new PID one's first is PID 1).
            pid = os.fork()
            if pid:
                os.write(ready, str(pid).encode())
                for fd in (ready, go, out):
                    if fd is not None:
                        os.close(fd)
                status = _exit_status(os.waitpid(pid, 0)[1])
                return
        else:
            os.write(ready, str(os.getpid()).encode())
        os.close(ready)
        reported = True
        if os.read(go, 1) != b"1":
            return
        if out is not None:
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(out)
        fn()
        status = 0
    except BaseException as err:  # a forked child must never return to the caller's code
        if reported:
            traceback.print_exc()
        else:
            os.write(ready, b"!" + _pickled_exception(err))
    finally:
        try:
            sys.stdout.flush()
        finally:
            os._exit(status)


def spawn(fn: Callable[[], object], *, flags: int = 0, join: int | None = None,
          uid_map: Iterable[tuple[int, int, int]] = (), gid_map: Iterable[tuple[int, int, int]] = (),
          setup: Callable[[int], object] | None = None, capture: bool = False) -> Child:
    """Call ``fn`` in a child process that first joins ``join``'s namespaces, then unshares ``flags``.

    With ``CLONE_NEWPID`` (or ``CLONE_NEWTIME``) the child forks once more, since those
    namespaces take only the caller's children: ``fn`` then runs as PID 1. The
    child then waits while the parent writes its user namespace maps and calls
    ``setup(pid)`` (e.g. ``cgroup.add``): runc's create/start split, where everything
    is in place before the first instruction of the container runs. ``capture``
    collects stdout and stderr for :meth:`Child.output`. ``fn`` may exec; the exit
    status is then the program's.
    """
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe() if capture else (None, None)
    waitee = os.fork()
    if waitee == 0:
        _child_main(fn, flags, join, ready_w, go_r, out_w)
    for fd in (ready_w, go_r, out_w):
        if fd is not None:
            os.close(fd)
    with os.fdopen(ready_r, "rb") as ready:
        report = ready.read()
    failed = report.startswith(b"!")
    child = Child(waitee if failed else int(report), waitee, go_w, out_r)
    try:
        if failed:
            child.wait()
            raise pickle.loads(report[1:])
        for kind, ranges in (("uid", uid_map), ("gid", gid_map)):
            if ranges:
                set_id_map(child.pid, kind, ranges)
        if setup is not None:
            setup(child.pid)
    except BaseException:
        child.__exit__()
        raise
    child._start()
    return child


def run(fn: Callable[[], T], **options: Any) -> T:
    """Call ``fn`` in a child (see :func:`spawn` for ``options``) and return what it returns.

    The value (``=`` and its pickle) or the exception ``fn`` raised (``!`` and its
    pickle) comes back through a pipe, so the notebook can look at a namespace
    without ever being in it.
    """
    result_r, result_w = os.pipe()

    def send_result() -> None:
        try:
            payload = b"=" + pickle.dumps(fn())
        except BaseException as err:  # it is re-raised in the parent
            payload = b"!" + _pickled_exception(err)
        with os.fdopen(result_w, "wb") as out:
            out.write(payload)

    try:
        child = spawn(send_result, **options)
    except BaseException:
        os.close(result_r)
        raise
    finally:
        os.close(result_w)  # the child has its own copy; EOF comes when it closes that
    with child, os.fdopen(result_r, "rb") as result:
        data = result.read()
        status = child.wait()
    if not data:
        raise FailedPrecondition(f"the child exited with status {status} before returning a result")
    if data.startswith(b"!"):
        raise pickle.loads(data[1:])
    return pickle.loads(data[1:])
