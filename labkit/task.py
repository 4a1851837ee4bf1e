"""Tasks and processes: a container's running process, its state machine, and exec'd processes.

A task moves through the runtime's states (runtime-spec, runtime.md "Lifecycle"),
and the supervisor refuses a call the current state does not allow — before it asks
the runtime, so a refused call changes nothing::

    created ──start──> running ──(exit, kill)──> stopped ──delete──> (gone)
       │                 │   ▲
       └──kill──> ...  pause resume
                         ▼   │
                        paused

``TRANSITIONS`` is that table (the lifecycle widget greys out buttons with it). Each
process — the task's init and every exec'd one — has its own shim (:mod:`labkit.shim`),
which publishes its ``/tasks/exit`` (``id`` = the container id or the exec id).
Records live in the container's directory: ``task.json``, ``pid``, ``exit.json``,
``stdout``/``stderr``, and ``execs/<exec id>/`` for each exec'd process.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import snapshots
from .errors import AlreadyExists, FailedPrecondition, LabkitError, NotFound
from .shim import (Launched, Parent, Reaper, alive, launch, milestone_lock, read_exit, reaper_gone, record_lost_exit,
                   signal_reaped)

if TYPE_CHECKING:
    from .supervisor import Container

__all__ = ["TRANSITIONS", "STATUSES", "Process", "Task"]

#: the task statuses, in lifecycle order (runtime-spec, runtime.md "State")
STATUSES = ("created", "running", "paused", "stopped")
#: verb -> the statuses it is allowed from (runc's and containerd's rules)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "start": ("created",),
    "pause": ("running",),
    "resume": ("paused",),
    "exec": ("running",),
    "kill": ("created", "running", "paused"),
    "delete": ("stopped",),
}
_POLL = 0.005  # seconds between looks at exit.json when another process's shim owns the exit


def _stdio(directory: Path, name: str, target: Path | int | None) -> tuple[int, str]:
    """An open fd for one stream of a process, and the path recorded for it in ``/tasks/create``'s io."""
    if isinstance(target, int):
        return os.dup(target), os.readlink(f"/proc/self/fd/{target}")
    path = Path(target) if target is not None else directory / name
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), str(path)


def _mounts_rootfs(container: Container) -> bool:
    """Whether the task mounts its snapshot on ``bundle/rootfs`` — or, rootless, ``root.path`` names the snapshot itself."""
    return not Path(container.spec["root"]["path"]).is_absolute()


class Process:
    """One process of a container — an exec'd one here; :class:`Task` is the init process.

    containerd's two steps: ``task.exec(id, args)`` records it (``/tasks/exec-added``),
    ``start()`` runs it (``/tasks/exec-started``).
    """

    def __init__(self, task: Task, id: str, directory: Path) -> None:
        self.task, self.id, self.dir = task, id, directory
        self._launched: Launched | Reaper | Parent | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.status()}>"

    @property
    def container_id(self) -> str:
        return self.task.container.id

    @property
    def pid(self) -> int:
        """The host pid (0 before the process exists)."""
        try:
            return int((self.dir / "pid").read_text())
        except FileNotFoundError:
            return 0

    def status(self) -> str:
        """``created`` (recorded, not started), ``running`` or ``stopped``."""
        if read_exit(self.dir) is not None:
            return "stopped"
        return "running" if self.pid else "created"

    def state(self) -> dict[str, Any]:
        """containerd's ``Status`` of the process: id, pid, status and, once stopped, its exit."""
        exit = read_exit(self.dir) or {}
        return {"id": self.id, "pid": self.pid, "status": self.status(),
                **{key: exit[key] for key in ("exit_status", "exited_at") if key in exit}}

    def _require(self, verb: str) -> str:
        """Refuse ``verb`` unless the current status allows it (TRANSITIONS); return the status."""
        status = self.status()
        if status not in TRANSITIONS[verb]:
            allowed = " or ".join(TRANSITIONS[verb])
            raise FailedPrecondition(f"cannot {verb} {self.id}: it is {status} ({verb} needs {allowed})")
        return status

    def start(self, *, stdout: Path | int | None = None, stderr: Path | int | None = None) -> None:
        """Run the recorded process through its own shim (``runc exec --detach``); ``/tasks/exec-started``."""
        self.task._require("exec")
        if self.pid:
            raise FailedPrecondition(f"cannot start {self.id}: it has already been started")
        request = {"kind": "exec", "process": json.loads((self.dir / "process.json").read_text())}
        with milestone_lock(self.dir):
            self._launch(request, stdout, stderr)
            self.task.container.supervisor.publish(
                "/tasks/exec-started", {"container_id": self.container_id, "exec_id": self.id, "pid": self.pid})

    def _launch(self, request: dict[str, Any], stdout: Path | int | None,
                stderr: Path | int | None) -> tuple[str, str]:
        """Start this process's shim; return the stdout and stderr paths it was given."""
        container = self.task.container
        runtime = container.supervisor.runtime(container.runtime)
        request |= {"runtime": runtime.name, "runtime_root": str(runtime.root), "container_id": container.id,
                    "id": self.id, "dir": str(self.dir), "root": str(container.supervisor.root)}
        (out, out_path), (err, err_path) = _stdio(self.dir, "stdout", stdout), _stdio(self.dir, "stderr", stderr)
        try:
            self._launched = launch(request, stdout=out, stderr=err, shim=container.supervisor.shim)
        finally:
            os.close(out)
            os.close(err)
        return out_path, err_path

    def wait(self) -> int:
        """Block until the process has exited and its ``/tasks/exit`` is published; return its exit status."""
        while (record := read_exit(self.dir)) is None:
            if self._launched is not None:
                launched, self._launched = self._launched, None
                try:
                    return launched.wait()
                except LabkitError:  # its shim died before reporting: fall back to the records
                    continue
            if not self.pid:
                raise FailedPrecondition(f"cannot wait for {self.id}: it has not been started")
            if reaper_gone(self.dir) and not alive(self.pid):  # its shim was killed: the status is lost
                supervisor = self.task.container.supervisor
                request = {"dir": str(self.dir), "container_id": self.container_id, "id": self.id}
                return record_lost_exit(request, self.pid, supervisor.events)
            time.sleep(_POLL)
        return record["exit_status"]

    def kill(self, signal: int = 15) -> None:
        """Send ``signal`` to the process (exec'd processes are signalled directly, as containerd does).

        Through a pidfd, never by the pid alone: the process may have exited and its pid gone to another.
        """
        if self.status() != "running":
            raise FailedPrecondition(f"cannot kill {self.id}: it is {self.status()} (kill needs running)")
        if isinstance(self._launched, Reaper):
            self._launched.kill(signal)
        elif not signal_reaped(self.dir, self.pid, signal):
            raise FailedPrecondition(f"cannot kill {self.id}: it has exited")

    def delete(self) -> dict[str, Any]:
        """Forget a stopped exec'd process; return its exit record (containerd publishes nothing for it)."""
        record = read_exit(self.dir)
        if record is None:
            raise FailedPrecondition(f"cannot delete {self.id}: it is {self.status()} (delete needs stopped)")
        shutil.rmtree(self.dir)
        return record


class Task(Process):
    """The init process of a container, driven through the runtime's lifecycle."""

    def __init__(self, container: Container) -> None:
        super().__init__(self, container.id, container.dir)
        self.container = container
        self.runtime = container.supervisor.runtime(container.runtime)

    @classmethod
    def create(cls, container: Container, *, stdout: Path | int | None, stderr: Path | int | None,
               start: bool = False) -> Task:
        """Mount the rootfs, ``runc create`` through a shim, record and publish ``/tasks/create``.

        ``start=True`` runs ``runc run`` instead, as this process's child (:class:`~labkit.shim.Parent`),
        and publishes ``/tasks/start`` right after ``/tasks/create``: the process is running by then.
        """
        if (container.dir / "task.json").exists():
            raise AlreadyExists(f"container {container.id} already has a task: delete it first")
        task = cls(container)
        rootfs = container.bundle / "rootfs"
        rootfs.mkdir(exist_ok=True)
        mounts = container.supervisor.snapshots(container.snapshotter).mounts(container.snapshot_key)
        mounted = _mounts_rootfs(container)
        if mounted:
            snapshots.mount_all(mounts, rootfs)
        with milestone_lock(task.dir):
            try:
                out, err = task._launch({"kind": "run" if start else "init", "bundle": str(container.bundle)},
                                        stdout, stderr)
            except BaseException:
                if mounted:
                    snapshots.unmount(rootfs)
                raise
            io = {"stdin": "/dev/null", "stdout": out, "stderr": err, "terminal": False}
            (task.dir / "task.json").write_text(json.dumps({"pid": task.pid, "io": io}))
            container.supervisor.publish("/tasks/create", {
                "container_id": container.id, "bundle": str(container.bundle), "io": io, "pid": task.pid,
                "rootfs": [{"type": m.type, "source": m.source, "options": list(m.options)} for m in mounts]})
            if start:
                container.supervisor.publish("/tasks/start", {"container_id": container.id, "pid": task.pid})
        return task

    def status(self) -> str:
        """The runtime's status (created, running, paused), or ``stopped`` once the shim has the exit."""
        if read_exit(self.dir) is not None:
            return "stopped"
        try:
            return self.runtime.state(self.id).status
        except NotFound:
            return "stopped"

    def start(self) -> None:
        """``runc start``: the init process execs the user's program; ``/tasks/start``."""
        with milestone_lock(self.dir):  # the shim publishes /tasks/exit only after this
            try:  # runc refuses a start in any other state than created, and changes nothing
                self.runtime.start(self.id)
            except FailedPrecondition:
                self._require("start")  # say so in the supervisor's words (a `runc state` saved when it works)
                raise
            self.container.supervisor.publish("/tasks/start", {"container_id": self.id, "pid": self.pid})

    def kill(self, signal: int = 15, *, all: bool = False) -> None:
        """``runc kill``: signal init (``all``: every process). PID 1 ignores signals it has no handler for.

        Init is signalled through a pidfd, without a runtime command, when this process
        reaps or runs it (:class:`~labkit.shim.Reaper`, :class:`~labkit.shim.Parent`) or its
        shim still does (:func:`~labkit.shim.signal_reaped`); else with ``runc kill``. Either
        refuses a stopped task and changes nothing, so the status is asked (a ``runc state``)
        only then, to say why in the supervisor's words.
        """
        try:
            if isinstance(self._launched, (Reaper, Parent)) and not all:
                self._launched.kill(signal)
            elif all or not signal_reaped(self.dir, self.pid, signal):
                self.runtime.kill(self.id, signal, all=all)
        except LabkitError:
            self._require("kill")
            raise

    def pause(self) -> None:
        """``runc pause``: freeze every process in the cgroup freezer; ``/tasks/paused``."""
        self._require("pause")
        self.runtime.pause(self.id)
        self.container.supervisor.publish("/tasks/paused", {"container_id": self.id})

    def resume(self) -> None:
        """``runc resume``: thaw them; ``/tasks/resumed``."""
        self._require("resume")
        self.runtime.resume(self.id)
        self.container.supervisor.publish("/tasks/resumed", {"container_id": self.id})

    def exec(self, exec_id: str, args: list[str], *, env: list[str] | None = None, cwd: str | None = None) -> Process:
        """Record a new process for the running container (the spec's process, other args); ``/tasks/exec-added``."""
        from .supervisor import validate_id

        self._require("exec")
        directory = self.dir / "execs" / validate_id(exec_id, "exec id")
        if directory.exists():
            raise AlreadyExists(f"exec id {exec_id} already exists in container {self.id}")
        process = dict(self.container.spec["process"], args=list(args), terminal=False)
        process.update({key: value for key, value in (("env", env), ("cwd", cwd)) if value is not None})
        directory.mkdir(parents=True)
        (directory / "process.json").write_text(json.dumps(process))
        self.container.supervisor.publish("/tasks/exec-added", {"container_id": self.id, "exec_id": exec_id})
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
        self._require("delete")
        self.wait()  # the runtime may say stopped a moment before the shim has published the exit
        record = read_exit(self.dir) or {}
        if self.runtime.exists(self.id):  # else ``runc run`` has deleted it itself, as it does once its process exits
            try:
                self.runtime.delete(self.id)
            except NotFound:  # it did so just now, at the same moment (a foreground run killed, its task killed)
                pass
        if _mounts_rootfs(self.container):
            snapshots.unmount(self.container.bundle / "rootfs")
        for name in ("task.json", "pid", "exit.json", "stdout", "stderr", "lock", "shim.pid"):
            (self.dir / name).unlink(missing_ok=True)
        shutil.rmtree(self.dir / "execs", ignore_errors=True)
        event = {"container_id": self.id, "pid": record["pid"], "exit_status": record["exit_status"],
                 "exited_at": record["exited_at"], "id": ""}  # containerd leaves id empty for the init process
        self.container.supervisor.publish("/tasks/delete", event)
        return record
