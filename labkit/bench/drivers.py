"""One driver per engine, one method per bench command (reference.md, "Bucketbench").

A driver takes a container called ``name`` through the lifecycle the suite times:
``run`` (create and start a detached process), ``pause``, ``resume``, ``stop``
(SIGKILL, then see the process gone), ``wait`` (see it exit by itself) and ``delete``.
What the runner times is exactly one call of one of these methods; ``prepare``
(once per driver), ``setup`` and ``cleanup`` (around each container) are not timed.

- ``runc`` / ``crun``: the bare runtime, as bucketbench drives it: ``runc run --detach
  --bundle B NAME``, ``runc kill NAME KILL``, ``runc delete NAME``. No daemon, no shim.
- ``labkit``: ``labkit.Supervisor`` in this very process: no interpreter start-up per call,
  and ``run`` is ``run_task()``, one ``runc run`` that stays the process's parent.
- ``labkit-cli``: the ``labkit`` command, one Python process per verb (its start-up and imports
  included), and a shim per container (``labkit run -d``).
- ``ctr``: containerd's client against the lab's private containerd: a Go binary per
  verb, a gRPC call, and a shim per container.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from .. import cgroups
from ..errors import FailedPrecondition, InvalidArgument, LabkitError, Unavailable
from ..images import pull
from ..lab.containerd import Containerd
from ..paths import CGROUP_PARENT, default_root
from ..supervisor import Supervisor
from ..task import Status, Task
from .bundle import container_bundle, default_bundle
from .config import Suite

__all__ = ["Driver", "RuncDriver", "CrunDriver", "LabkitDriver", "LabkitCliDriver", "CtrDriver", "DRIVER_TYPES", "make"]

#: how long ``stop`` and ``wait`` wait for a process to exit before calling it an error
EXIT_TIMEOUT = 10.0


def _execute(argv: list[str], log: Path | None = None) -> str:
    """Run one command; its stdout, or ``FailedPrecondition`` with its stderr.

    A command that leaves a detached process behind (``runc run --detach``) hands it
    its own stdout and stderr: pass ``log`` so that they go to that file instead of a
    pipe, which the process would hold open (and this call wait on) for its whole life.
    """
    try:
        if log is None:
            captured = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            returncode, stdout, stderr = captured.returncode, captured.stdout, captured.stderr
        else:
            with log.open("w") as out:
                returncode = subprocess.run(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL).returncode
            stdout = stderr = log.read_text() if returncode else ""
    except FileNotFoundError:
        raise Unavailable(f"{argv[0]} is not installed") from None
    if returncode != 0:
        raise FailedPrecondition(f"{' '.join(argv[:3])}...: {stderr.strip() or returncode}")
    return stdout


def _wait_exit(pidfd: int, timeout: float = EXIT_TIMEOUT) -> None:
    """Block until the process behind ``pidfd`` has exited (a pidfd polls readable then), and close it.

    If this process has become a child subreaper (the ``labkit`` driver's supervisor
    makes it one), an orphaned container process is our child: reap it, or it stays a zombie.
    """
    try:
        if not select.select([pidfd], [], [], timeout)[0]:
            raise FailedPrecondition(f"process did not exit within {timeout:g} s")
        try:
            os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
        except ChildProcessError:
            pass  # not ours to reap: its own parent (init, a shim) does it
    finally:
        os.close(pidfd)


def _cgroup_pidfd(container_id: str) -> int:
    """A pidfd for the first process of the lab cgroup ``/labkit/<id>`` (on v1 or v2)."""
    try:
        return os.pidfd_open(cgroups.Cgroup(container_id).procs()[0])
    except (FileNotFoundError, IndexError):
        raise FailedPrecondition(f"no cgroup /{CGROUP_PARENT}/{container_id}: is the container running?") from None


class Driver(ABC):
    """The commands a suite can time, for one engine. Subclasses set ``type``."""

    type: ClassVar[str]

    def __init__(self, suite: Suite, root: Path | None = None) -> None:
        self.suite = suite
        self.root = root or default_root()

    @property
    def image_ref(self) -> str:
        """The suite's image (a suite whose drivers pull has one: ``config.parse`` refuses it otherwise)."""
        if self.suite.image is None:
            raise InvalidArgument(f"bench suite: the {self.type} driver needs an 'image'")
        return self.suite.image

    def prepare(self) -> None:
        """Once, before any timing: fetch the image, build the bundle."""

    def setup(self, name: str) -> None:
        """Before the container ``name`` is run, untimed."""

    def cleanup(self, name: str) -> None:
        """After the container's commands, untimed: remove whatever is left of it."""

    def close(self) -> None:
        """Once, after the last container: stop what ``prepare`` started."""

    @abstractmethod
    def run(self, name: str) -> None: ...
    @abstractmethod
    def pause(self, name: str) -> None: ...
    @abstractmethod
    def resume(self, name: str) -> None: ...
    @abstractmethod
    def stop(self, name: str) -> None: ...
    @abstractmethod
    def wait(self, name: str) -> None: ...
    @abstractmethod
    def delete(self, name: str) -> None: ...


class RuncDriver(Driver):
    """The bare runtime: one exec of the binary per verb, state under ``<root>/<runtime>``."""

    type = "runc"

    def __init__(self, suite: Suite, root: Path | None = None) -> None:
        super().__init__(suite, root)
        self.bundles = self.root / "bench" / f"{self.type}-bundles"
        self.pidfds: dict[str, int] = {}

    def _runtime(self, *args: str, log: Path | None = None) -> str:
        return _execute([self.type, "--root", str(self.root / self.type), *args], log)

    def prepare(self) -> None:
        self.base = self.suite.bundle or default_bundle(self.root / "bench" / "bundle")

    def setup(self, name: str) -> None:
        container_bundle(self.base, self.bundles / name, name, self.suite.args)

    def run(self, name: str) -> None:
        bundle = self.bundles / name
        pidfile = bundle / "pid"
        self._runtime("run", "--detach", "--pid-file", str(pidfile), "--bundle", str(bundle), name, log=bundle / "log")
        self.pidfds[name] = os.pidfd_open(int(pidfile.read_text()))

    def pause(self, name: str) -> None:
        self._runtime("pause", name)

    def resume(self, name: str) -> None:
        self._runtime("resume", name)

    def stop(self, name: str) -> None:
        self._runtime("kill", name, "KILL")
        _wait_exit(self.pidfds.pop(name))

    def wait(self, name: str) -> None:
        _wait_exit(self.pidfds.pop(name))

    def delete(self, name: str) -> None:
        self._runtime("delete", name)

    def cleanup(self, name: str) -> None:
        if (pidfd := self.pidfds.pop(name, None)) is not None:
            os.close(pidfd)
        if (self.root / self.type / name).exists():
            subprocess.run([self.type, "--root", str(self.root / self.type), "delete", "--force", name],
                           capture_output=True)
        shutil.rmtree(self.bundles / name, ignore_errors=True)


class CrunDriver(RuncDriver):
    """crun, a runtime in C: the same command line as runc, a smaller and faster binary."""

    type = "crun"


class LabkitDriver(Driver):
    """``labkit.Supervisor`` in this process: the calls a notebook makes (design.md, "Python API").

    The bench outlives every task it makes and waits for each, so ``run`` is
    ``Container.run_task()``: one ``runc run`` as this process's child creates and starts the
    task, and deletes the container when it exits — no shim, no ``runc start`` or ``delete``;
    ``stop`` signals through a pidfd, without a runtime command.
    """

    type = "labkit"

    def prepare(self) -> None:
        self.supervisor = Supervisor(self.root)
        self.image = pull(self.image_ref, plain_http=self.suite.plain_http, root=self.root)
        self.tasks: dict[str, Task] = {}

    def run(self, name: str) -> None:
        self.tasks[name] = self.supervisor.create_container(name, self.image, list(self.suite.args)).run_task()

    def pause(self, name: str) -> None:
        self.tasks[name].pause()

    def resume(self, name: str) -> None:
        self.tasks[name].resume()

    def stop(self, name: str) -> None:
        self.tasks[name].kill(signal.SIGKILL)
        self.tasks[name].wait()

    def wait(self, name: str) -> None:
        self.tasks[name].wait()

    def delete(self, name: str) -> None:
        self.tasks.pop(name).delete()
        self.supervisor.container(name).delete()

    def cleanup(self, name: str) -> None:
        task = self.tasks.pop(name, None)
        try:
            container = self.supervisor.container(name)
        except LabkitError:
            return  # never created, or deleted by the suite
        if task is not None and task.status() != Status.STOPPED:
            task.kill(signal.SIGKILL)
            task.wait()
        if task is not None:
            task.delete()
        container.delete()


class LabkitCliDriver(Driver):
    """The ``labkit`` command as a user types it: a Python process per verb, then the same supervisor.

    Each verb pays for the interpreter's start-up and labkit's imports, and ``labkit run -d``
    starts a shim per container, as a user's commands do.
    """

    type = "labkit-cli"

    def _labkit(self, *args: str, check: bool = True) -> str:
        argv = [str(Path(sys.executable).parent / "labkit"), "--root", str(self.root), *args]  # the console script
        if check:
            return _execute(argv)
        subprocess.run(argv, capture_output=True)
        return ""

    def prepare(self) -> None:
        self._labkit("pull", *(["--plain-http"] if self.suite.plain_http else []), self.image_ref)

    def run(self, name: str) -> None:
        self._labkit("run", "-d", self.image_ref, name, "--", *self.suite.args)

    def pause(self, name: str) -> None:
        self._labkit("tasks", "pause", name)

    def resume(self, name: str) -> None:
        self._labkit("tasks", "resume", name)

    def stop(self, name: str) -> None:
        pidfd = _cgroup_pidfd(name)
        self._labkit("tasks", "kill", "--signal", "SIGKILL", name)
        _wait_exit(pidfd)

    def wait(self, name: str) -> None:
        _wait_exit(_cgroup_pidfd(name))

    def delete(self, name: str) -> None:
        self._labkit("tasks", "delete", name)
        self._labkit("containers", "delete", name)

    def cleanup(self, name: str) -> None:
        if (self.root / "containers" / name).exists():
            self._labkit("tasks", "kill", "--signal", "SIGKILL", name, check=False)
            self._labkit("tasks", "delete", name, check=False)
            self._labkit("containers", "delete", name, check=False)


class CtrDriver(Driver):
    """containerd's ``ctr`` against the lab's private containerd (``labkit.lab.containerd``)."""

    type = "ctr"

    def prepare(self) -> None:
        self.containerd = Containerd(self.root)
        self.started = self.containerd.pid is None
        self.containerd.start()
        self.containerd.pull(self.image_ref, plain_http=self.suite.plain_http)

    def close(self) -> None:
        if self.started:
            self.containerd.stop()

    def run(self, name: str) -> None:
        self.containerd.run(self.image_ref, name, *self.suite.args, detach=True)

    def pause(self, name: str) -> None:
        self.containerd.ctr("tasks", "pause", name)

    def resume(self, name: str) -> None:
        self.containerd.ctr("tasks", "resume", name)

    def stop(self, name: str) -> None:
        pidfd = _cgroup_pidfd(f"containerd-{name}")
        self.containerd.ctr("tasks", "kill", "--signal", "SIGKILL", name)
        _wait_exit(pidfd)

    def wait(self, name: str) -> None:
        _wait_exit(_cgroup_pidfd(f"containerd-{name}"))

    def delete(self, name: str) -> None:
        self.containerd.ctr("tasks", "delete", name)
        self.containerd.ctr("containers", "delete", name)

    def cleanup(self, name: str) -> None:
        self.containerd.ctr("tasks", "delete", "--force", name, check=False)
        self.containerd.ctr("containers", "delete", name, check=False)


DRIVER_TYPES: dict[str, type[Driver]] = {
    cls.type: cls for cls in (LabkitDriver, LabkitCliDriver, RuncDriver, CrunDriver, CtrDriver)
}


def make(kind: str, suite: Suite, root: Path | None = None) -> Driver:
    """The driver called ``kind`` for ``suite``, keeping its state under the lab root ``root``."""
    return DRIVER_TYPES[kind](suite, root)
