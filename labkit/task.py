"""Tasks and processes: a container's running process, its state machine, and exec'd processes.

A task moves through the runtime's states (runtime-spec, runtime.md "Lifecycle")::

    created ──start──> running ──(exit, kill)──> stopped ──delete──> (gone)
       │                 │   ▲
       └──kill──> ...  pause resume
                         ▼   │
                        paused

Check, then act: each verb first checks the task's status against ``TRANSITIONS`` — the
table the lifecycle widget greys its buttons with — and refuses a call the status does
not allow with ``FailedPrecondition``, before the runtime is asked anything (as youki's
``can_start()`` / ``can_pause()`` do). The status is the task's own record, written at each
transition it makes (``<dir>/status``), overruled by two facts: an exit recorded
(``exit.json``) or a process the kernel no longer has means ``stopped``. So a refused call
runs no runtime command and changes nothing.

A task gets what it works with from the supervisor, in :class:`TaskOptions` (the runtime,
the exchange, the root filesystem's mounts, ...), as containerd's task service gets its
create options: it never reads the container records. Each process — the init and every
exec'd one — has a parent (:mod:`labkit.shim`) that records and publishes its ``/tasks/exit``
(``id`` = the container id or the exec id). Records live in the task's directory:
``task.json``, ``status``, ``pid``, ``exit.json``, ``stdout``/``stderr``, and
``execs/<exec id>/`` for each exec'd process.
"""

from __future__ import annotations

import enum
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import snapshots
from .errors import AlreadyExists, FailedPrecondition, NotFound
from .events import (
    TASK_CREATE,
    TASK_DELETE,
    TASK_EXEC_ADDED,
    TASK_EXEC_STARTED,
    TASK_PAUSED,
    TASK_RESUMED,
    TASK_START,
    Exchange,
)
from .identifiers import validate
from .runtime import Runtime
from .shim import FromRecords, Kind, Network, Parent, Request, alive, launch, milestone_lock, read_exit, read_pid

__all__ = ["STATUSES", "TRANSITIONS", "Process", "Status", "Task", "TaskOptions"]


class Status(enum.StrEnum):
    """A process's status (runtime-spec, runtime.md "State"); each is its own name as a string."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


#: the statuses, in lifecycle order
STATUSES = tuple(Status)
#: verb -> the statuses it is allowed from (runc's and containerd's rules)
TRANSITIONS: dict[str, tuple[Status, ...]] = {
    "start": (Status.CREATED,),
    "pause": (Status.RUNNING,),
    "resume": (Status.PAUSED,),
    "exec": (Status.RUNNING,),
    "kill": (Status.CREATED, Status.RUNNING, Status.PAUSED),
    "delete": (Status.STOPPED,),
}
#: a file to write a process's stdout or stderr to, or an open descriptor (``labkit run`` passes its terminal)
Output = Path | int | None


@dataclass(frozen=True)
class TaskOptions:
    """What a task works with, given by the supervisor (containerd: the task service's create options).

    ``mounts`` make the root filesystem (its snapshot's); ``reaper`` makes this process the
    parent of the task's processes instead of a shim each (``Supervisor(shim=False)``);
    ``network`` is the user-mode network the init process's parent connects it to.
    """

    container_id: str
    directory: Path
    bundle: Path
    runtime: Runtime
    events: Exchange
    mounts: tuple[snapshots.Mount, ...]
    reaper: bool = False
    network: Network | None = None


def _stdio(directory: Path, name: str, target: Output) -> tuple[int, str]:
    """An open fd for one stream of a process, and the path recorded for it in ``/tasks/create``'s io."""
    if isinstance(target, int):
        return os.dup(target), os.readlink(f"/proc/self/fd/{target}")
    path = Path(target) if target is not None else directory / name
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), str(path)


class _Process:
    """What the init process and an exec'd one share: records in a directory, a status, a parent, an exit."""

    def __init__(self, options: TaskOptions, process_id: str, directory: Path, kind: Kind) -> None:
        self.options, self.id, self.dir, self._kind = options, process_id, directory, kind
        self._parent: Parent = FromRecords(self._request())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.status()}>"

    @property
    def container_id(self) -> str:
        return self.options.container_id

    @property
    def pid(self) -> int:
        """The host pid (0 before the process exists)."""
        return read_pid(self.dir)

    def _request(self, kind: Kind | None = None, **fields: Any) -> Request:
        """The request for this process's parent (:mod:`labkit.shim.request`), built here only."""
        runtime = self.options.runtime
        return Request(kind=kind or self._kind, runtime=runtime.name, runtime_root=runtime.root,
                       container_id=self.container_id, id=self.id, directory=self.dir,
                       lab_root=self.options.events.root, **fields)

    def status(self) -> Status:
        """The recorded status; ``stopped`` once the exit is recorded or the process has gone."""
        if read_exit(self.dir) is not None:
            return Status.STOPPED
        try:
            recorded = Status((self.dir / "status").read_text())
        except FileNotFoundError:
            recorded = Status.CREATED
        pid = self.pid
        if pid and not alive(pid):  # exited (or a zombie): its parent is recording the exit
            return Status.STOPPED
        return recorded

    def _record_status(self, status: Status) -> None:
        (self.dir / "status.tmp").write_text(status.value)
        os.replace(self.dir / "status.tmp", self.dir / "status")

    def _check(self, verb: str, allowed: tuple[Status, ...] | None = None) -> Status:
        """Refuse ``verb`` unless the status allows it (``TRANSITIONS``); return the status."""
        allowed = allowed or TRANSITIONS[verb]
        status = self.status()
        if status not in allowed:
            raise FailedPrecondition(f"cannot {verb} {self.id}: it is {status} ({verb} needs "
                                     f"{' or '.join(allowed)})")
        return status

    def state(self) -> dict[str, Any]:
        """containerd's ``Status`` of the process: id, pid, status and, once stopped, its exit."""
        record = read_exit(self.dir) or {}
        return {"id": self.id, "pid": self.pid, "status": self.status(),
                **{key: record[key] for key in ("exit_status", "exited_at") if key in record}}

    def _launch(self, request: Request, stdout: Output, stderr: Output) -> tuple[str, str]:
        """Make the process through its parent (:func:`labkit.shim.launch`); return its stdout and stderr paths."""
        (out, out_path), (err, err_path) = _stdio(self.dir, "stdout", stdout), _stdio(self.dir, "stderr", stderr)
        try:
            self._parent = launch(request, stdout=out, stderr=err, reaper=self.options.reaper)
        finally:
            os.close(out)
            os.close(err)
        return out_path, err_path

    def wait(self) -> int:
        """Block until the process has exited and its ``/tasks/exit`` is published; return its exit status."""
        if (record := read_exit(self.dir)) is not None:
            return int(record["exit_status"])
        if not self.pid:
            raise FailedPrecondition(f"cannot wait for {self.id}: it has not been started")
        return self._parent.wait()


class Process(_Process):
    """One exec'd process of a running task (containerd's ``task.Exec``, then ``process.Start``).

    ``task.exec(id, args)`` records it (``/tasks/exec-added``), ``start()`` runs it
    (``/tasks/exec-started``). It is signalled directly, as containerd does, never through the runtime.
    """

    def __init__(self, task: Task, exec_id: str, directory: Path) -> None:
        super().__init__(task.options, exec_id, directory, "exec")
        self.task = task

    def start(self, *, stdout: Output = None, stderr: Output = None) -> None:
        """Run the recorded process (``runc exec --detach``) through its own parent; ``/tasks/exec-started``."""
        self.task._check("exec")
        self._check("start")
        process = json.loads((self.dir / "process.json").read_text())
        with milestone_lock(self.dir):
            self._launch(self._request(process=process), stdout, stderr)
            self._record_status(Status.RUNNING)
            self.options.events.publish(TASK_EXEC_STARTED, {"container_id": self.container_id, "exec_id": self.id,
                                                            "pid": self.pid})

    def kill(self, signal: int = 15) -> None:
        """Send ``signal`` to the process, through a pidfd: never by the pid alone, which may be another's by now."""
        self._check("kill", (Status.RUNNING,))
        if not self._parent.kill(signal):
            raise FailedPrecondition(f"cannot kill {self.id}: it has exited")

    def delete(self) -> dict[str, Any]:
        """Forget a stopped exec'd process; return its exit record (containerd publishes nothing for it)."""
        self._check("delete")
        self.wait()  # stopped: the exit is recorded, or its parent is recording it now
        record = read_exit(self.dir) or {}
        shutil.rmtree(self.dir)
        return record


class Task(_Process):
    """The init process of a container, driven through the runtime's lifecycle."""

    def __init__(self, options: TaskOptions) -> None:
        super().__init__(options, options.container_id, options.directory, "init")
        self.runtime = options.runtime

    @property
    def _mounts_rootfs(self) -> bool:
        """Whether the task mounts its snapshot on ``bundle/rootfs`` — or, rootless, ``root.path`` names it itself."""
        spec = json.loads((self.options.bundle / "config.json").read_text())
        return not Path(spec["root"]["path"]).is_absolute()

    @classmethod
    def create(cls, options: TaskOptions, *, stdout: Output = None, stderr: Output = None,
               start: bool = False) -> Task:
        """Mount the rootfs, ``runc create`` through a shim, record and publish ``/tasks/create``.

        ``start=True`` runs ``runc run`` instead, as this process's child
        (:class:`~labkit.shim.RuntimeRun`), and publishes ``/tasks/start`` right after
        ``/tasks/create``: the process is running by then.
        """
        if (options.directory / "task.json").exists():
            raise AlreadyExists(f"container {options.container_id} already has a task: delete it first")
        task = cls(options)
        rootfs = options.bundle / "rootfs"
        rootfs.mkdir(exist_ok=True)
        mounted = task._mounts_rootfs
        if mounted:
            snapshots.mount_all(list(options.mounts), rootfs)
        with milestone_lock(task.dir):
            try:
                out, err = task._launch(task._request("run" if start else "init", bundle=options.bundle,
                                                      network=options.network), stdout, stderr)
            except BaseException:
                if mounted:
                    snapshots.unmount(rootfs)
                raise
            task._record_status(Status.RUNNING if start else Status.CREATED)
            io = {"stdin": "/dev/null", "stdout": out, "stderr": err, "terminal": False}
            (task.dir / "task.json").write_text(json.dumps({"pid": task.pid, "io": io}))
            options.events.publish(TASK_CREATE, {
                "container_id": task.id, "bundle": str(options.bundle), "io": io, "pid": task.pid,
                "rootfs": [{"type": m.type, "source": m.source, "options": list(m.options)} for m in options.mounts]})
            if start:
                options.events.publish(TASK_START, {"container_id": task.id, "pid": task.pid})
        return task

    def _transition(self, verb: str, act: Callable[[str], None], status: Status, topic: str,
                    event: dict[str, Any]) -> None:
        """Check, then act: refuse ``verb`` unless the status allows it, run it, record ``status``, publish the event.

        All under the task's lifecycle lock: a second transition waits, and the process's exit
        is published only after this one's event (``milestone_lock``).
        """
        with milestone_lock(self.dir):
            self._check(verb)
            act(self.id)
            self._record_status(status)
            self.options.events.publish(topic, event)

    def start(self) -> None:
        """``runc start``: the init process execs the user's program; ``/tasks/start``."""
        self._transition("start", self.runtime.start, Status.RUNNING, TASK_START, {"container_id": self.id, "pid": self.pid})

    def kill(self, signal: int = 15, *, all_processes: bool = False) -> None:
        """``runc kill``: signal init (``all_processes``: every process). PID 1 ignores signals it has no handler for.

        Init is signalled through its parent (a pidfd, no runtime command) when that is safe
        (:meth:`labkit.shim.Parent.kill`); else, and for every process, with ``runc kill``.
        """
        self._check("kill")
        if all_processes or not self._parent.kill(signal):
            self.runtime.kill(self.id, signal, all_processes=all_processes)

    def pause(self) -> None:
        """``runc pause``: freeze every process in the cgroup freezer; ``/tasks/paused``."""
        self._transition("pause", self.runtime.pause, Status.PAUSED, TASK_PAUSED, {"container_id": self.id})

    def resume(self) -> None:
        """``runc resume``: thaw them; ``/tasks/resumed``."""
        self._transition("resume", self.runtime.resume, Status.RUNNING, TASK_RESUMED, {"container_id": self.id})

    def exec(self, exec_id: str, args: list[str], *, env: list[str] | None = None, cwd: str | None = None) -> Process:
        """Record a new process for the running container (the spec's process, other args); ``/tasks/exec-added``."""
        self._check("exec")
        directory = self.dir / "execs" / validate(exec_id, "exec id")
        if directory.exists():
            raise AlreadyExists(f"exec id {exec_id} already exists in container {self.id}")
        spec = json.loads((self.options.bundle / "config.json").read_text())
        process = dict(spec["process"], args=list(args), terminal=False)
        process.update({key: value for key, value in (("env", env), ("cwd", cwd)) if value is not None})
        directory.mkdir(parents=True)
        (directory / "process.json").write_text(json.dumps(process))
        self.options.events.publish(TASK_EXEC_ADDED, {"container_id": self.id, "exec_id": exec_id})
        return Process(self, exec_id, directory)

    def process(self, exec_id: str) -> Process:
        """An exec'd process, found again from its record."""
        directory = self.dir / "execs" / exec_id
        if not directory.is_dir():
            raise NotFound(f"no process {exec_id} in container {self.id}")
        return Process(self, exec_id, directory)

    def pids(self) -> list[int]:
        """``runc ps``: the host pids of every process in the container."""
        return self.runtime.ps(self.id)

    def delete(self) -> dict[str, Any]:
        """``runc delete``, unmount the rootfs, forget the task; ``/tasks/delete``. Returns the exit record."""
        self._check("delete")
        self.wait()  # stopped: the exit is recorded, or its parent is recording it now
        record = read_exit(self.dir) or {}
        if self.runtime.exists(self.id):  # else ``runc run`` has deleted it itself, as it does once its process exits
            try:
                self.runtime.delete(self.id)
            except NotFound:  # it did so just now, at the same moment (a foreground run killed, its task killed)
                pass
        if self._mounts_rootfs:
            snapshots.unmount(self.options.bundle / "rootfs")
        for name in ("task.json", "status", "pid", "exit.json", "stdout", "stderr", "lock", "shim.pid",
                     "slirp4netns.log"):
            (self.dir / name).unlink(missing_ok=True)
        shutil.rmtree(self.dir / "execs", ignore_errors=True)
        event = {"container_id": self.id, "pid": record["pid"], "exit_status": record["exit_status"],
                 "exited_at": record["exited_at"], "id": ""}  # containerd leaves id empty for the init process
        self.options.events.publish(TASK_DELETE, event)
        return record
