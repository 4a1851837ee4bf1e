"""The shim: one small process per container process, the parent that collects its exit status.

``runc create`` and ``runc exec --detach`` return as soon as the process is set up;
the process is then re-parented to the nearest *child subreaper* (prctl(2),
``PR_SET_CHILD_SUBREAPER``), or to the host's init. Only its parent can ``wait()``
for it, so whoever wants its exit status must be that subreaper and must outlive
whoever asked for the container. containerd solves this with
``containerd-shim-runc-v2``; labkit with this module::

    supervisor ──launch()──> shim (detached: own session, double fork, subreaper)
                               ├─ runc create / runc exec --detach   (stdio: the task's files)
                               ├─ "pid N"    ──status pipe──> supervisor
                               ├─ waitpid(-1) until N is reaped
                               ├─ publish /tasks/exit (exactly once), then <dir>/exit.json
                               └─ "exit S"   ──status pipe──> supervisor (if it still listens)

so a task started by ``labkit run -d`` keeps running after the command returns, and its
exit is still recorded and published. A caller that outlives its tasks (a notebook kernel)
may skip the shim and reap them itself: :class:`Reaper`; one that waits for its task (a
foreground ``labkit run``) may leave the waiting to ``runc run``: :class:`Parent`. The shim
starts as ``python -S -m labkit.shim`` and imports only the standard library, the runtime
driver and the events journal: every millisecond here is paid by every ``labkit run -d``.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import errors
from .errors import FailedPrecondition, LabkitError
from .runtime import Runtime

if TYPE_CHECKING:
    from .events import Exchange

__all__ = ["Launched", "Reaper", "Parent", "launch", "milestone_lock", "read_exit", "reaper_gone", "record_lost_exit",
           "alive", "signal_reaped", "exit_status", "main"]

_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)


class Launched:
    """A shim that has created its process: the process's pid and the pipe that will carry its exit."""

    def __init__(self, pid: int, status: IO[str]) -> None:
        self.pid, self.status = pid, status

    def wait(self) -> int:
        """Block until the shim has recorded and published the exit; return the exit status."""
        for line in self.status:
            if line.startswith("exit "):
                self.status.close()
                return int(line.split()[1])
        self.status.close()
        raise LabkitError(f"the shim of pid {self.pid} died before reporting an exit")


def launch(request: dict[str, Any], *, stdout: IO[Any] | int, stderr: IO[Any] | int,
           shim: bool = True) -> Launched | Reaper | Parent:
    """Start a detached shim for ``request`` and return once its process exists (or raise its error).

    ``request`` holds: ``kind`` ("init" or "exec"), ``runtime``, ``runtime_root``,
    ``container_id``, ``id`` (the process id: container id or exec id), ``dir`` (where
    pid, exit.json and logs go), ``root`` (the lab root, for events), and ``bundle``
    (init and run) or ``process`` (exec). ``stdout``/``stderr`` become the container process's.
    With ``shim=False`` this process reaps it instead (:class:`Reaper`); kind "run" is :class:`Parent`.
    """
    if request["kind"] == "run":
        return Parent(request, stdout=stdout, stderr=stderr)
    if not shim:
        return Reaper(request, stdout=stdout, stderr=stderr)
    read_fd, write_fd = os.pipe()
    env = {**os.environ, "PYTHONPATH": _PACKAGE_PARENT}
    proc = subprocess.Popen([sys.executable, "-S", "-m", "labkit.shim", json.dumps(request), str(write_fd)],
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, pass_fds=(write_fd,),
                            start_new_session=True, env=env)
    os.close(write_fd)
    proc.wait()  # the first fork exits at once; the shim itself lives on, orphaned
    status = os.fdopen(read_fd, "r")
    first = status.readline().rstrip("\n")
    kind, _, value = first.partition(" ")
    if kind != "pid":
        status.close()
        raise _error(value or "the shim exited without reporting")
    return Launched(int(value), status)


class _Pinned:
    """A process this one may signal without a runtime command: a pidfd (pidfd_open(2)) pins it.

    A pid alone is unsafe: once the process is reaped the kernel may give its pid to
    another. A pidfd keeps naming the process it was opened for (``ESRCH`` once it is gone).
    """

    pid: int

    def _pin(self, pidfd: int) -> None:
        self._pidfd, self._lock = pidfd, threading.Lock()

    def _unpin(self) -> None:
        with self._lock:
            if self._pidfd >= 0:
                os.close(self._pidfd)
                self._pidfd = -1

    def kill(self, signum: int) -> None:
        """Send ``signum`` through the pidfd (pidfd_send_signal(2)); FailedPrecondition once it has exited."""
        with self._lock:
            try:
                if self._pidfd < 0:
                    raise ProcessLookupError
                signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:
                raise FailedPrecondition(f"cannot kill pid {self.pid}: it has exited") from None


class Reaper(_Pinned):
    """No shim: this very process is the subreaper, and a thread waits for the one process.

    For a caller that outlives its tasks — a foreground ``labkit run``, a notebook kernel
    reaping its own tasks — this saves the shim's interpreter start-up on every task. The
    price: the exit is recorded and published only while this process lives.
    """

    def __init__(self, request: dict[str, Any], *, stdout: IO[Any] | int, stderr: IO[Any] | int) -> None:
        from .events import Exchange

        _claim(Path(request["dir"]))
        _become_subreaper()
        self.pid = _start(request, Path(request["dir"]), stdout, stderr)
        self._pin(os.pidfd_open(self.pid))  # our child until we reap it: the pid is still its own
        self._status: int | None = None
        self._thread = threading.Thread(target=self._reap, args=(request, Exchange(Path(request["root"]))),
                                        name=f"labkit-reaper-{self.pid}", daemon=True)
        self._thread.start()

    def _reap(self, request: dict[str, Any], exchange: Exchange) -> None:
        _, status = os.waitpid(self.pid, 0)
        self._unpin()
        self._status = _record(request, self.pid, exit_status(status), exchange)

    def wait(self) -> int:
        """Block until the exit is recorded and published; return the exit status."""
        self._thread.join()
        if self._status is None:
            raise LabkitError(f"the exit of pid {self.pid} could not be recorded")
        return self._status


class Parent(_Pinned):
    """``runc run``: the runtime is the process's parent and this process the runtime's — no shim, no subreaper.

    For a caller that waits for its task anyway (a foreground ``labkit run``): one runtime
    command creates and starts the process, waits for it and deletes the container, where
    a shim would run three (create, start, delete). Its exit status is the process's.
    """

    def __init__(self, request: dict[str, Any], *, stdout: IO[Any] | int, stderr: IO[Any] | int) -> None:
        directory = Path(request["dir"])
        _claim(directory)
        runtime = Runtime(request["runtime"], Path(request["runtime_root"]))
        self._request = request
        self._proc = runtime.run(request["container_id"], Path(request["bundle"]), pid_file=directory / "pid",
                                 stdout=stdout, stderr=stderr)
        self.pid = int((directory / "pid").read_text())
        try:  # the runtime's child, or gone already (then its pid may be another's: forget it)
            self._pin(os.pidfd_open(self.pid))
        except ProcessLookupError:
            self._pin(-1)
        if _stat(self.pid)[1:2] != [str(self._proc.pid)]:
            self._unpin()

    def wait(self) -> int:
        """Block until the runtime has exited; record and publish the exit; return the exit status."""
        from .events import Exchange

        status = self._proc.wait()
        if status < 0:  # the runtime itself was killed: its process lives on, orphaned, its status lost to us
            if self._pidfd >= 0:
                select.select([self._pidfd], [], [])  # a pidfd turns readable when its process exits
            status = 255  # containerd's "unknown exit status", as for a dead shim
        self._unpin()
        return _record(self._request, self.pid, status, Exchange(Path(self._request["root"])))


def _error(message: str) -> LabkitError:
    """Rebuild the labkit error the shim reported as ``<Kind>: <message>``."""
    kind, _, text = message.partition(": ")
    cls = getattr(errors, kind, None)
    return cls(text) if isinstance(cls, type) and issubclass(cls, LabkitError) else LabkitError(message)


@contextmanager
def milestone_lock(directory: Path) -> Iterator[None]:
    """Hold a process's lifecycle lock (``<dir>/lock``, flock(2)) while a milestone is done and published.

    A short-lived process can exit the instant ``runc start`` returns, before the caller
    has published ``/tasks/start``; its shim takes this lock before publishing
    ``/tasks/exit``, so subscribers see start, then exit, as containerd's shim guarantees.
    """
    fd = os.open(Path(directory) / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_exit(directory: Path) -> dict[str, Any] | None:
    """The recorded exit of the process whose shim works in ``directory`` (None while it runs)."""
    try:
        return json.loads((Path(directory) / "exit.json").read_text())
    except FileNotFoundError:
        return None


def exit_status(wait_status: int) -> int:
    """A ``waitpid`` status as a shell and containerd report it: the code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def _become_subreaper() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise FailedPrecondition(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")


def _reap(pid: int) -> int:
    """Reap children (the runtime re-parents its processes to us) until ``pid`` is among them."""
    while True:
        try:
            child, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255  # containerd's "unknown exit status"
        if child == pid:
            return exit_status(status)


def _start(request: dict[str, Any], directory: Path, stdout: IO[Any] | int | None = None,
           stderr: IO[Any] | int | None = None) -> int:
    """Run ``runc create`` or ``runc exec --detach`` (stdio: given, or ours); return the new process's pid."""
    runtime = Runtime(request["runtime"], Path(request["runtime_root"]))
    pid_file = directory / "pid"
    if request["kind"] == "exec":
        return runtime.exec(request["container_id"], request["process"], pid_file=pid_file, stdout=stdout,
                            stderr=stderr)
    runtime.create(request["container_id"], Path(request["bundle"]), pid_file=pid_file, stdout=stdout, stderr=stderr)
    return int(pid_file.read_text())


def _record(request: dict[str, Any], pid: int, status: int, exchange: Exchange) -> int:
    """Publish ``/tasks/exit``, then write ``exit.json``: exactly once per process; return the status."""
    directory = Path(request["dir"])
    exit = {"container_id": request["container_id"], "id": request["id"], "pid": pid, "exit_status": status,
            "exited_at": datetime.now(timezone.utc)}
    with milestone_lock(directory):  # never before a /tasks/start or /tasks/exec-started still being published
        if (recorded := read_exit(directory)) is not None:  # a dead shim's exit, recorded by a waiter
            return recorded["exit_status"]
        envelope = exchange.publish("/tasks/exit", exit)
        # Recorded after it is published, so that whoever sees the record can rely on the event being out.
        (directory / "exit.json.tmp").write_text(json.dumps(envelope.event))
        os.replace(directory / "exit.json.tmp", directory / "exit.json")
    return status


def _claim(directory: Path) -> None:
    """Write ``<dir>/shim.pid``: whoever waits can tell a live reaper from a dead one."""
    (directory / "shim.pid").write_text(str(os.getpid()))


def reaper_gone(directory: Path) -> bool:
    """Has the process that reaps this one (its shim, or a :class:`Reaper`'s process) died?"""
    try:
        return not alive(int((Path(directory) / "shim.pid").read_text()))
    except (FileNotFoundError, ValueError):
        return False


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (proc(5)): state, ppid, ...; [] if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or between the open and the read (ESRCH)
        return []


def alive(pid: int) -> bool:
    """Is ``pid`` a live process (not gone, not a zombie waiting for its parent)?"""
    stat = _stat(pid)
    return bool(stat) and stat[0] != "Z"


def signal_reaped(directory: Path, pid: int, signum: int) -> bool:
    """Signal ``pid`` if it is still the child of its reaper (``<dir>/shim.pid``); False if not (gone, or not known).

    kill(2) by pid alone could hit another process that got the pid once this one was
    reaped. Until then its reaper is its parent, and a reaper starts nothing after its
    process: so a pidfd opened first, then the parent checked, name the right process
    (pidfd_open(2), pidfd_send_signal(2)).
    """
    try:
        reaper = (Path(directory) / "shim.pid").read_text().strip()
        pidfd = os.pidfd_open(pid)
    except (FileNotFoundError, ProcessLookupError):
        return False
    try:
        if _stat(pid)[1:2] != [reaper]:
            return False
        signal.pidfd_send_signal(pidfd, signum)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)


def record_lost_exit(request: dict[str, Any], pid: int, exchange: Exchange) -> int:
    """The reaper died first: record and publish exit status 255, "unknown", as containerd does for a dead shim."""
    return _record(request, pid, 255, exchange)


def _serve(request: dict[str, Any], status_fd: int) -> None:
    directory = Path(request["dir"])
    try:
        _claim(directory)
        _become_subreaper()
        pid = _start(request, directory)
    except LabkitError as err:
        os.write(status_fd, f"error {type(err).__name__}: {err}\n".encode())
        return
    os.write(status_fd, f"pid {pid}\n".encode())
    null = os.open(os.devnull, os.O_RDWR)  # the process keeps its stdio; we let go of ours
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    from .events import Exchange  # paid while the process runs, not before it starts

    status = _record(request, pid, _reap(pid), Exchange(Path(request["root"])))
    try:
        os.write(status_fd, f"exit {status}\n".encode())
    except BrokenPipeError:  # the launcher has gone (``labkit run -d``): the journal has the exit
        pass


def main(argv: list[str]) -> None:
    """Entry point of the shim process: ``python -S -m labkit.shim REQUEST_JSON STATUS_FD``."""
    request, status_fd = json.loads(argv[0]), int(argv[1])
    if os.fork():  # double fork: the launcher's wait() returns now, the shim is re-parented to init
        os._exit(0)
    try:
        _serve(request, status_fd)
    except BaseException:  # our stderr is the container's or /dev/null: leave the story in the directory
        import traceback

        (Path(request["dir"]) / "shim.log").write_text(traceback.format_exc())
        raise


if __name__ == "__main__":
    main(sys.argv[1:])
