"""The ways to be a container process's parent, behind one interface: :class:`Parent`.

``runc create`` and ``runc exec --detach`` return as soon as the process is set up, and
the process is re-parented to the nearest *child subreaper* (prctl(2),
``PR_SET_CHILD_SUBREAPER``). Only a parent can ``wait()`` for a process, so someone
must be that subreaper to learn its exit status (reference.md, "Detached"). Four answers:

- :class:`Shim`: a small process of its own, detached, outliving whoever asked
  (``labkit run -d``, the default): containerd's ``containerd-shim-runc-v2``;
- :class:`Reaper`: this very process, with a thread per process (``Supervisor(shim=False)``,
  for a caller that outlives its tasks: notebook 13, the bench);
- :class:`RuntimeRun`: ``runc run``, which stays the process's parent itself (``run_task()``,
  a foreground ``labkit run``);
- :class:`FromRecords`: the parent is elsewhere (a task found again by another process):
  the records say when it has exited, and who reaps it.

Each gives the process's ``pid``, ``wait()`` for its exit (recorded and published by
then) and ``kill(signum)`` without a runtime command when that is safe.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Protocol

from ..errors import LabkitError, from_data
from ..events import Exchange
from ..runtime import Runtime
from .records import (
    UNKNOWN_STATUS,
    alive,
    become_subreaper,
    claim,
    exit_status,
    parent_of,
    read_exit,
    read_pid,
    reaper_gone,
    record_exit,
    signal_reaped,
)
from .request import Request, decode_answer

__all__ = ["FromRecords", "Parent", "Reaper", "RuntimeRun", "Shim", "connect", "disconnect", "launch", "start_process"]

#: what a container process's stdout or stderr may be: an open file, a descriptor, or (None) ours
Stdio = IO[Any] | int | None
_POLL = 0.005  # seconds between looks at exit.json when the process's parent is another process
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class Parent(Protocol):
    """Whoever is a container process's parent, seen from the supervisor."""

    pid: int

    def wait(self) -> int:
        """Block until the process has exited and its exit is recorded and published; its exit status."""
        ...

    def kill(self, signum: int) -> bool:
        """Signal the process without a runtime command; False when that is not safe (then ask the runtime)."""
        ...


def launch(request: Request, *, stdout: Stdio, stderr: Stdio, reaper: bool = False) -> Parent:
    """Make the process ``request`` asks for and return its parent, once the process exists.

    ``run`` requests go to :class:`RuntimeRun`; the others to a :class:`Shim`, or to a
    :class:`Reaper` in this process when ``reaper`` is true.
    """
    if request.kind == "run":
        return RuntimeRun(request, stdout=stdout, stderr=stderr)
    if reaper:
        return Reaper(request, stdout=stdout, stderr=stderr)
    return Shim(request, stdout=stdout, stderr=stderr)


def start_process(request: Request, stdout: Stdio = None, stderr: Stdio = None) -> int:
    """``runc create`` or ``runc exec --detach`` (stdio: given, or ours); return the new process's pid."""
    runtime = Runtime(request.runtime, request.runtime_root)
    pid_file = request.directory / "pid"
    if request.kind == "exec":
        assert request.process is not None, "an exec request carries its process"
        return runtime.exec(request.container_id, request.process, pid_file=pid_file, stdout=stdout, stderr=stderr)
    assert request.bundle is not None, "an init request carries its bundle"
    runtime.create(request.container_id, request.bundle, pid_file=pid_file, stdout=stdout, stderr=stderr)
    return read_pid(request.directory)


def connect(request: Request, pid: int) -> subprocess.Popen[bytes] | None:
    """Connect the new process to the user-mode network its request names; the helper to stop when it exits."""
    if request.network is None:
        return None
    from ..net import slirp4netns

    return slirp4netns(pid, request.directory / "slirp4netns.log")


def disconnect(helper: subprocess.Popen[bytes] | None) -> None:
    """Stop a network helper once its process has exited (its namespace is gone with it)."""
    if helper is not None:
        helper.terminate()
        helper.wait()


class FromRecords:
    """A process whose parent is another process: its records tell its pid, its exit and its reaper."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.pid = read_pid(request.directory)

    def wait(self) -> int:
        """Watch the records until the exit is there; if the reaper died first, record status 255 ourselves."""
        directory = self.request.directory
        while (record := read_exit(directory)) is None:
            if reaper_gone(directory) and not alive(self.pid):  # its shim was killed: the status is lost
                return record_exit(self.request, self.pid, UNKNOWN_STATUS, Exchange(self.request.lab_root))
            time.sleep(_POLL)
        return int(record["exit_status"])

    def kill(self, signum: int) -> bool:
        return signal_reaped(self.request.directory, self.pid, signum)


class Shim(FromRecords):
    """A shim process (``python -m labkit.shim``): detached, the subreaper, it records and publishes the exit.

    Started with a double fork in a session of its own, it outlives this process. It answers
    on a status pipe (:mod:`labkit.shim.request`): the pid, or the error that stopped it; later
    the exit status, if this process still listens.
    """

    def __init__(self, request: Request, *, stdout: Stdio, stderr: Stdio) -> None:
        read_fd, write_fd = os.pipe()
        # The shim runs the labkit that launched it, wherever that was imported from.
        path = os.pathsep.join(filter(None, (_PACKAGE_PARENT, os.environ.get("PYTHONPATH"))))
        proc = subprocess.Popen([sys.executable, "-m", "labkit.shim", request.to_json(), str(write_fd)],
                                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, pass_fds=(write_fd,),
                                start_new_session=True, env={**os.environ, "PYTHONPATH": path})
        os.close(write_fd)
        proc.wait()  # the first fork exits at once; the shim itself lives on, orphaned
        self._answers = os.fdopen(read_fd, "r")
        answer = decode_answer(self._answers.readline())
        if "pid" not in answer:
            self._answers.close()
            raise from_data(answer.get("error", {"message": "the shim exited without reporting"}))
        super().__init__(request)
        self.pid = int(answer["pid"])

    def wait(self) -> int:
        """The exit status, as the shim reports it; from the records if the shim died before it could."""
        if not self._answers.closed:  # the first wait: the shim may still tell it
            with self._answers:
                answer = decode_answer(self._answers.readline())
            if "exit_status" in answer:
                return int(answer["exit_status"])
        return super().wait()


class _Pinned:
    """A process this one may signal without a runtime command: a pidfd (pidfd_open(2)) pins it.

    A pid alone is unsafe: once the process is reaped the kernel may give its pid to
    another. A pidfd keeps naming the process it was opened for (``ESRCH`` once it is gone).
    """

    def __init__(self, pidfd: int) -> None:
        self._pidfd, self._lock = pidfd, threading.Lock()

    def _unpin(self) -> None:
        with self._lock:
            if self._pidfd >= 0:
                os.close(self._pidfd)
                self._pidfd = -1

    def kill(self, signum: int) -> bool:
        """Send ``signum`` through the pidfd (pidfd_send_signal(2)); False once the process has exited."""
        with self._lock:
            if self._pidfd < 0:
                return False
            try:
                signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:
                return False
            return True


class Reaper(_Pinned):
    """No shim: this very process is the subreaper, and a thread waits for the one process.

    For a caller that outlives its tasks and waits for them (notebook 13, the bench): no
    shim's interpreter to start per process. The price: the exit is recorded and published
    only while this process lives.
    """

    def __init__(self, request: Request, *, stdout: Stdio, stderr: Stdio) -> None:
        claim(request.directory)
        become_subreaper()
        self.pid = start_process(request, stdout, stderr)
        super().__init__(os.pidfd_open(self.pid))  # our child until we reap it: the pid is still its own
        self._network = connect(request, self.pid)
        self._status: int | None = None
        self._thread = threading.Thread(target=self._reap, args=(request,), name=f"labkit-reaper-{self.pid}",
                                        daemon=True)
        self._thread.start()

    def _reap(self, request: Request) -> None:
        _, status = os.waitpid(self.pid, 0)
        self._unpin()
        disconnect(self._network)
        self._status = record_exit(request, self.pid, exit_status(status), Exchange(request.lab_root))

    def wait(self) -> int:
        self._thread.join()
        if self._status is None:
            raise LabkitError(f"the exit of pid {self.pid} could not be recorded")
        return self._status


class RuntimeRun(_Pinned):
    """``runc run``: the runtime is the process's parent and this process the runtime's — no shim, no subreaper.

    For a caller that waits for its task anyway (a foreground ``labkit run``, the bench): one
    runtime command creates and starts the process, waits for it and deletes the container,
    where a shim would run three (create, start, delete). Its exit status is the process's.
    """

    def __init__(self, request: Request, *, stdout: Stdio, stderr: Stdio) -> None:
        assert request.bundle is not None, "a run request carries its bundle"
        assert request.network is None, "runc run starts the process at once: no time to connect a network first"
        claim(request.directory)
        runtime = Runtime(request.runtime, request.runtime_root)
        self._request = request
        self._proc = runtime.run(request.container_id, request.bundle, pid_file=request.directory / "pid",
                                 stdout=stdout, stderr=stderr)
        self.pid = read_pid(request.directory)
        try:  # the runtime's child, or gone already (then its pid may be another's: forget it)
            super().__init__(os.pidfd_open(self.pid))
        except ProcessLookupError:
            super().__init__(-1)
        if parent_of(self.pid) != self._proc.pid:
            self._unpin()

    def wait(self) -> int:
        """Block until the runtime has exited; record and publish the exit; return the exit status."""
        status = self._proc.wait()
        if status < 0:  # the runtime itself was killed: its process lives on, orphaned, its status lost to us
            if self._pidfd >= 0:
                select.select([self._pidfd], [], [])  # a pidfd turns readable when its process exits
            status = UNKNOWN_STATUS
        self._unpin()
        return record_exit(self._request, self.pid, status, Exchange(self._request.lab_root))
