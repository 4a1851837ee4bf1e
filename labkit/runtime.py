"""The OCI runtime driver: one method per verb of ``runc`` (or ``crun``).

An OCI runtime turns a *bundle* (a directory with ``config.json`` and a root
filesystem) into a running process, and nothing more: it does not fetch images,
keep records or collect exit statuses. Its command line is the OCI runtime
spec's lifecycle (runtime-spec, runtime.md "Operations")::

    create  -> status "created"  (init is blocked on exec.fifo, waiting for start)
    start   -> status "running"  (init execs the user's process)
    kill    -> a signal to init  (status "stopped" once it has exited)
    delete  -> the container is gone (its cgroups and runtime state removed)

plus runc's extensions that containerd uses: ``state``, ``pause``/``resume``
(the cgroup freezer), ``exec`` (one more process in the same namespaces), ``ps``,
``events --stats`` and ``update``, and ``run`` (create and start in one command that
stays the process's parent). This module runs them with
``--root <lab root>/<runtime>``, parses their JSON, and turns their failures into
labkit errors with one line that says what went wrong.

``runc`` and ``crun`` take the same verbs; ``crun`` has no ``events``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import AlreadyExists, FailedPrecondition, InvalidArgument, LabkitError, NotFound, Unavailable
from .paths import default_root

__all__ = ["RUNTIMES", "Runtime", "State"]

#: the OCI runtimes labkit can drive
RUNTIMES = ("runc", "crun")

#: (error kind, pattern in the runtime's message), first match wins; both runtimes' wordings.
_ERRORS: list[tuple[type[LabkitError], re.Pattern[str]]] = [
    (NotFound, re.compile(r"does not exist|not found|error opening file .*/status")),
    (AlreadyExists, re.compile(r"already exists|File exists")),
    (FailedPrecondition, re.compile(r"not running|not paused|not stopped|already running|is paused"
                                    r"|in a (paused|stopped) container|not in `created`|exec\.fifo"
                                    r"|cannot start|stopped")),
]
_LOGRUS_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')
_PID_FILE_POLL = 0.001  # seconds between looks for the pid file ``run`` writes once its process has started


@dataclass(frozen=True)
class State:
    """``runc state ID``: the runtime's view of one container (runtime-spec, runtime.md "State")."""

    id: str
    pid: int
    status: str  # "created" | "running" | "paused" | "stopped"
    bundle: str
    created: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        return cls(id=data["id"], pid=data.get("pid", 0), status=data["status"], bundle=data.get("bundle", ""),
                   created=data.get("created", ""), annotations=data.get("annotations") or {})


def _one_line(stderr: str) -> str:
    """The runtime's error message, reduced to its last meaningful line (logrus ``msg=`` unwrapped)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "failed without a message"
    last = lines[-1]
    if match := _LOGRUS_MSG.search(last):
        last = match.group(1).replace('\\"', '"')
    return last


class Runtime:
    """Drive one OCI runtime binary with its state kept under ``<lab root>/<name>``.

    >>> rt = Runtime("runc")              # doctest: +SKIP
    >>> rt.state("demo").status           # doctest: +SKIP
    'running'
    """

    def __init__(self, name: str = "runc", root: Path | None = None) -> None:
        if name not in RUNTIMES:
            raise InvalidArgument(f"unknown runtime {name!r}: choose one of {', '.join(RUNTIMES)}")
        binary = shutil.which(name)
        if binary is None:
            raise Unavailable(f"the OCI runtime {name!r} is not installed")
        self.name = name
        self.binary = binary
        self.root = Path(root) if root is not None else default_root() / name

    def __repr__(self) -> str:
        return f"Runtime({self.name!r}, root={str(self.root)!r})"

    def command(self, verb: str, *args: str) -> list[str]:
        """The argv for one verb: ``<runtime> --root <root> <verb> <args...>``."""
        return [self.binary, "--root", str(self.root), verb, *args]

    def _fail(self, verb: str, container_id: str, message: str) -> LabkitError:
        text = f"{self.name} {verb} {container_id}: {message}"
        for kind, pattern in _ERRORS:
            if pattern.search(message):
                return kind(text)
        return LabkitError(text)

    def _call(self, verb: str, container_id: str, *options: str, after: tuple[str, ...] = (),
              stdin: str | None = None) -> str:
        """Run ``verb [options] ID [after]``, capturing its output (``stdin``: text to feed it); raise a labkit error."""
        proc = subprocess.run(self.command(verb, *options, container_id, *after), input=stdin, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise self._fail(verb, container_id, _one_line(proc.stderr))
        return proc.stdout

    def _spawn(self, verb: str, container_id: str, args: list[str], log: Path,
               stdout: IO[Any] | int | None, stderr: IO[Any] | int | None) -> None:
        """Run a verb that starts a process: its stdio is the new process's, so errors come from a JSON log."""
        argv = [self.binary, "--root", str(self.root), "--log", str(log), "--log-format", "json", verb, *args,
                container_id]
        if subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr).returncode != 0:
            raise self._fail(verb, container_id, _last_log_error(log))

    # -- the lifecycle (runtime-spec, runtime.md "Operations") ------------------------------------

    def create(self, container_id: str, bundle: Path, *, pid_file: Path | None = None,
               stdout: IO[Any] | int | None = None, stderr: IO[Any] | int | None = None) -> None:
        """``runc create``: set the container up; its init waits on ``exec.fifo`` until :meth:`start`.

        The container's stdio is the runtime's: pass files (or fds) for stdout and stderr,
        never pipes nobody reads. The init process is re-parented to the nearest child
        subreaper when ``create`` returns (reference.md, "Detached"), so whoever wants its
        exit status must be one — that is what :mod:`labkit.shim` is for. Errors are read
        from the runtime's JSON log (``<bundle>/log.json``), since its stderr belongs to the container.
        """
        args = ["--bundle", str(bundle), *(["--pid-file", str(pid_file)] if pid_file is not None else [])]
        self._spawn("create", container_id, args, Path(bundle) / "log.json", stdout, stderr)

    def run(self, container_id: str, bundle: Path, *, pid_file: Path, stdout: IO[Any] | int | None = None,
            stderr: IO[Any] | int | None = None) -> subprocess.Popen[bytes]:
        """``runc run``: create and start in one command, which stays the process's parent until it exits.

        Returns once the runtime has written ``pid_file``, which both runtimes do after the
        start, with the runtime still running: it waits for the process, passes on the signals
        it gets, deletes the container when the process exits (:meth:`exists` turns false) and
        exits with its status (128+N for signal N). One command instead of create, start and
        delete, for a caller that waits anyway (a foreground ``labkit run``). It runs in a
        session of its own, so that a terminal's Ctrl-C reaches only the caller, which passes it on.
        """
        log = Path(bundle) / "log.json"
        Path(pid_file).unlink(missing_ok=True)
        argv = [self.binary, "--root", str(self.root), "--log", str(log), "--log-format", "json", "run",
                "--bundle", str(bundle), "--pid-file", str(pid_file), container_id]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, start_new_session=True)
        try:
            started = _started(proc, pid_file)
        except BaseException:  # interrupted (Ctrl-C): stop what was begun, but let the runtime finish creating it
            if proc.poll() is None and _started(proc, pid_file):  # first: killed half-way, runc leaves cgroups behind
                with contextlib.suppress(LabkitError):  # it may have exited just now
                    self.kill(container_id, "KILL")
            proc.wait()  # the runtime deletes the container once its process has exited
            raise
        if not started:
            proc.wait()  # it never started the process: to the caller, creating it failed
            raise self._fail("create", container_id, _last_log_error(log))
        return proc

    def exists(self, container_id: str) -> bool:
        """Does the runtime keep a container ``id``? Both keep its state in ``<root>/<id>/``: no command to run."""
        return (self.root / container_id).is_dir()

    def start(self, container_id: str) -> None:
        """``runc start``: open ``exec.fifo`` so that the waiting init execs the user's process."""
        self._call("start", container_id)

    def state(self, container_id: str) -> State:
        """``runc state``: status, pid and bundle, as the runtime sees them."""
        return State.from_json(json.loads(self._call("state", container_id)))

    def containers(self) -> list[State]:
        """``runc list``: every container under this runtime's ``--root``."""
        proc = subprocess.run(self.command("list", "--format", "json"), capture_output=True, text=True)
        if proc.returncode != 0:
            raise self._fail("list", "", _one_line(proc.stderr))
        return [State.from_json(item) for item in json.loads(proc.stdout or "null") or []]

    def kill(self, container_id: str, signal: str | int = "TERM", *, all_processes: bool = False) -> None:
        """``runc kill``: send a signal to init (``all_processes``: ``--all``, to every process of the container)."""
        self._call("kill", container_id, *(["--all"] if all_processes else []), after=(str(signal),))

    def delete(self, container_id: str, *, force: bool = False) -> None:
        """``runc delete``: remove a stopped container (``force`` kills a running one first)."""
        self._call("delete", container_id, *(["--force"] if force else []))

    def pause(self, container_id: str) -> None:
        """``runc pause``: freeze every process of the container (cgroup freezer)."""
        self._call("pause", container_id)

    def resume(self, container_id: str) -> None:
        """``runc resume``: thaw a paused container."""
        self._call("resume", container_id)

    def exec(self, container_id: str, process: dict[str, Any], *, pid_file: Path,
             stdout: IO[Any] | int | None = None, stderr: IO[Any] | int | None = None) -> int:
        """``runc exec --detach -p process.json``: one more process in the container; returns its pid.

        ``process`` is a runtime-spec ``process`` object (config.md, "Process"). Like
        ``create``, the new process is re-parented to the caller's nearest subreaper; the
        process spec and the runtime's log are written next to ``pid_file``.
        """
        spec = Path(pid_file).with_name("process.json")
        spec.write_text(json.dumps(process))
        args = ["--detach", "--pid-file", str(pid_file), "--process", str(spec)]
        self._spawn("exec", container_id, args, spec.with_name("log.json"), stdout, stderr)
        return int(Path(pid_file).read_text())

    def ps(self, container_id: str) -> list[int]:
        """``runc ps --format json``: the host pids of the container's processes."""
        return [int(pid) for pid in json.loads(self._call("ps", container_id, "--format", "json"))]

    def stats(self, container_id: str) -> dict[str, Any]:
        """``runc events --stats``: one snapshot of the container's cgroup statistics (the ``data`` object)."""
        if self.name == "crun":
            raise Unavailable(f"crun has no 'events' command: read the cgroup of {container_id} instead")
        return json.loads(self._call("events", container_id, "--stats"))["data"]

    def update(self, container_id: str, resources: dict[str, Any]) -> None:
        """``runc update -r -``: change a running container's limits (a runtime-spec ``linux.resources``)."""
        self._call("update", container_id, "--resources", "-", stdin=json.dumps(resources))


def _started(proc: subprocess.Popen[bytes], pid_file: Path) -> bool:
    """Wait until ``run`` has started its process (it writes the pid file) or has exited without starting it."""
    pidfd = os.pidfd_open(proc.pid)  # readable once the runtime has exited
    try:
        while not _read_pid(pid_file):
            if select.select([pidfd], [], [], _PID_FILE_POLL)[0]:
                return bool(_read_pid(pid_file))
        return True
    finally:
        os.close(pidfd)


def _read_pid(pid_file: Path) -> int:
    """The pid in a runtime's pid file, or 0 while it is missing or not yet written."""
    try:
        return int(Path(pid_file).read_text())
    except (FileNotFoundError, ValueError):
        return 0


def _last_log_error(log: Path) -> str:
    """The last error a runtime wrote to its ``--log-format json`` log."""
    try:
        lines = log.read_text().splitlines()
    except OSError:
        return "failed without a log"
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "fatal"):
            return str(entry.get("msg", "")).strip() or "failed without a message"
    return "failed without a message"

