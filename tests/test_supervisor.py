"""labkit.supervisor and labkit.task: containers, tasks, the refusing state machine, exec, recovery."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from waiting import wait_until

from labkit import images, snapshots
from labkit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, LabkitError, NotFound
from labkit.shim import parent_of, signal_reaped
from labkit.supervisor import Supervisor
from labkit.task import TRANSITIONS, Task

pytestmark = [pytest.mark.root, pytest.mark.registry]
RUNTIMES = [pytest.param(name, marks=pytest.mark.tool(name)) for name in ("runc", "crun")]


@pytest.fixture
def sup(lab_root: Path, registry: str) -> Iterator[Supervisor]:
    """A supervisor with the lab's busybox pulled and unpacked; every container removed afterwards."""
    image = images.pull(f"{registry}/lab/busybox:latest", plain_http=True)
    snapshots.unpack(image, snapshots.get("overlay", lab_root))
    supervisor = Supervisor()
    yield supervisor
    remove_all(supervisor)


def remove_all(supervisor: Supervisor) -> None:
    """Kill, delete and remove whatever a test left behind under this lab root."""
    for container in supervisor.containers():
        try:
            task = container.task()
            if task.status() != "stopped":
                if task.status() == "paused":
                    task.resume()
                task.kill(signal.SIGKILL)
            task.wait()
            task.delete()
        except NotFound:
            pass
        container.delete()


def topics(sub) -> list[str]:
    return [envelope.topic for envelope in iter(lambda: sub.recv(timeout=0.5), None)]


def _id() -> str:
    return f"sv-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_to_completion_publishes_containerds_sequence(sup: Supervisor, runtime: str) -> None:
    sub = sup.subscribe()
    container = sup.create_container(id := _id(), "127.0.0.1:5000/lab/busybox:latest",
                                     ["sh", "-c", "echo hi; exit 7"], runtime=runtime, labels={"a": "b"})
    assert container.spec["linux"]["cgroupsPath"] == f"/labkit/{id}"
    task = container.new_task()
    assert task.status() == "created"
    task.start()
    assert task.wait() == 7
    assert (container.dir / "stdout").read_text() == "hi\n"
    assert task.state() == {"id": id, "pid": task.pid, "status": "stopped", "exit_status": 7,
                            "exited_at": task.state()["exited_at"]}
    assert task.delete()["exit_status"] == 7
    container.delete()
    assert topics(sub) == ["/snapshot/prepare", "/containers/create", "/tasks/create", "/tasks/start",
                           "/tasks/exit", "/tasks/delete", "/snapshot/remove", "/containers/delete"]
    assert sup.containers() == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_wrong_transitions_fail_and_change_nothing(sup: Supervisor, runtime: str) -> None:
    task = sup.create_container(_id(), "127.0.0.1:5000/lab/busybox:latest", ["sleep", "60"],
                                runtime=runtime).new_task()
    for verb in ("pause", "resume", "exec", "delete"):
        assert "created" not in TRANSITIONS[verb]
    with pytest.raises(FailedPrecondition, match="cannot pause .*: it is created \\(pause needs running\\)"):
        task.pause()
    task.start()
    with pytest.raises(FailedPrecondition, match="cannot start .*: it is running \\(start needs created\\)"):
        task.start()
    with pytest.raises(FailedPrecondition, match="cannot delete .*: it is running"):
        task.delete()
    with pytest.raises(FailedPrecondition, match="cannot resume .*: it is running"):
        task.resume()
    task.pause()
    with pytest.raises(FailedPrecondition, match="it is paused"):
        task.pause()
    with pytest.raises(FailedPrecondition, match="cannot exec .*: it is paused"):
        task.exec("e1", ["true"])
    assert task.status() == "paused"
    task.resume()
    task.kill(signal.SIGKILL)
    assert task.wait() == 137
    for call in (task.start, task.pause, lambda: task.exec("e1", ["true"]), lambda: task.kill(9)):
        with pytest.raises(FailedPrecondition, match="it is stopped"):
            call()
    assert task.status() == "stopped"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exec_is_a_first_class_process(sup: Supervisor, runtime: str) -> None:
    task = sup.create_container(cid := _id(), "127.0.0.1:5000/lab/busybox:latest", ["sleep", "60"],
                                runtime=runtime).new_task()
    task.start()
    sub = sup.subscribe(f"event.container_id=={cid}")
    process = task.exec("e1", ["sh", "-c", "echo from exec; exit 3"])
    assert process.status() == "created"
    with pytest.raises(AlreadyExists):
        task.exec("e1", ["true"])
    process.start()
    assert process.wait() == 3
    assert (process.dir / "stdout").read_text() == "from exec\n"
    assert process.delete()["exit_status"] == 3
    events = [(e.topic, e.event) for e in iter(lambda: sub.recv(timeout=0.5), None)]
    assert [topic for topic, _ in events] == ["/tasks/exec-added", "/tasks/exec-started", "/tasks/exit"]
    assert events[2][1]["id"] == "e1" and events[2][1]["exit_status"] == 3
    assert task.status() == "running"


def test_sigterm_does_not_stop_pid_1_without_a_handler(sup: Supervisor) -> None:
    task = sup.create_container(_id(), "127.0.0.1:5000/lab/busybox:latest", ["sleep", "60"]).new_task()
    task.start()
    # `runc start` returns once runc's init has been told to go; until it has exec'd the program, init is
    # runc's own Go code, which a SIGTERM ends (exit status 2). The lesson is about the program as PID 1.
    wait_until(lambda: Path(f"/proc/{task.pid}/exe").resolve().name == "busybox", 10, "sleep never started")
    task.kill(signal.SIGTERM)
    assert task.status() == "running"
    task.kill(signal.SIGKILL)
    assert task.wait() == 137


def test_a_new_supervisor_finds_the_running_task_again(sup: Supervisor) -> None:
    """Recovery: records on disk plus the runtime's state; the exit is awaited from another process."""
    task = sup.create_container(id := _id(), "127.0.0.1:5000/lab/busybox:latest", ["sleep", "60"]).new_task()
    task.start()
    again = Supervisor().container(id).task()
    assert (again.pid, again.status()) == (task.pid, "running")
    assert [c.id for c in Supervisor().containers()] == [id]
    code = f"from labkit import Supervisor; print(Supervisor().container({id!r}).task().wait())"
    waiter = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    again.kill(signal.SIGKILL)
    assert waiter.communicate(timeout=10)[0].strip() == "137"


def test_records_and_refusals(sup: Supervisor) -> None:
    container = sup.create_container(id := _id(), "127.0.0.1:5000/lab/busybox:latest",
                                     extensions={"notebook": {"cell": 3}}, hostname="box")
    assert container.spec["process"]["args"] == ["sh"] and container.spec["hostname"] == "box"
    info = sup.container(id).info()
    assert info["extensions"] == {"notebook": {"cell": 3}} and info["snapshot_key"] == id
    with pytest.raises(AlreadyExists):
        sup.create_container(id, "127.0.0.1:5000/lab/busybox:latest")
    with pytest.raises(InvalidArgument):
        sup.create_container("bad/id", "127.0.0.1:5000/lab/busybox:latest")
    with pytest.raises(NotFound, match="has no task"):
        container.task()
    with pytest.raises(NotFound, match="not found"):
        sup.container("nope")
    with pytest.raises(LabkitError, match="unknown runtime"):
        sup.create_container(_id(), "127.0.0.1:5000/lab/busybox:latest", runtime="kata")
    task = container.new_task()
    with pytest.raises(AlreadyExists):
        container.new_task()
    with pytest.raises(FailedPrecondition, match="it has a task"):
        container.delete()
    assert isinstance(container.task(), Task) and task.status() == "created"


_OWN_REAPER = """
import signal, sys
from labkit import Supervisor
own = Supervisor(shim=False)
sub = own.subscribe('topic=="/tasks/exit"')
container = own.create_container(sys.argv[1], "127.0.0.1:5000/lab/busybox:latest", ["sleep", "60"], runtime=sys.argv[2])
task = container.new_task()
task.start()
process = task.exec("e1", ["sh", "-c", "exit 3"])
process.start()
print(process.wait())
task.kill(signal.SIGKILL)
print(task.wait())
print([(e.event["id"], e.event["exit_status"]) for e in iter(lambda: sub.recv(timeout=0.5), None)])
task.delete()
container.delete()
"""


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_without_a_shim_this_process_reaps_its_own_tasks(sup: Supervisor, runtime: str) -> None:
    """``Supervisor(shim=False)``: the caller is the subreaper; exits are published once all the same.

    In a process of its own: a subreaper stays one, and pytest should not become one.
    """
    id = _id()
    result = subprocess.run([sys.executable, "-c", _OWN_REAPER, id, runtime], capture_output=True, text=True,
                            check=True)
    assert result.stdout.splitlines() == ["3", "137", str([("e1", 3), (id, 137)])]


def test_a_killed_shim_leaves_exit_status_255(sup: Supervisor) -> None:
    """As containerd does for a dead shim: the exit is still published, once, with the status unknown."""
    task = sup.create_container(id := _id(), "127.0.0.1:5000/lab/busybox:latest", ["sleep", "60"]).new_task()
    task.start()
    os.kill(int((task.dir / "shim.pid").read_text()), signal.SIGKILL)
    task.kill(signal.SIGKILL)
    assert Supervisor().container(id).task().wait() == 255
    exits = [e.event["exit_status"] for e in sup.events.replay(f'topic=="/tasks/exit",event.id=={id}')]
    assert exits == [255]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_task_is_one_runtime_run_with_containerds_sequence(sup: Supervisor, runtime: str) -> None:
    """``run_task()``: new_task and start in one ``runc run``, our child, which deletes the container itself."""
    sub = sup.subscribe()
    container = sup.create_container(id := _id(), "127.0.0.1:5000/lab/busybox:latest",
                                     ["sh", "-c", "echo hi; exit 7"], runtime=runtime)
    task = container.run_task()
    with pytest.raises(AlreadyExists):
        container.run_task()
    assert task.wait() == 7
    assert (container.dir / "stdout").read_text() == "hi\n"
    assert not task.runtime.exists(id) and task.status() == "stopped"
    assert task.delete()["exit_status"] == 7
    container.delete()
    assert topics(sub) == ["/snapshot/prepare", "/containers/create", "/tasks/create", "/tasks/start",
                           "/tasks/exit", "/tasks/delete", "/snapshot/remove", "/containers/delete"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_task_we_run_is_signalled_through_its_pidfd_and_refused_once_it_has_exited(sup: Supervisor,
                                                                                  runtime: str) -> None:
    task = sup.create_container(_id(), "127.0.0.1:5000/lab/busybox:latest", ["sleep", "60"],
                                runtime=runtime).run_task()
    runtime_pid = parent_of(task.pid)  # the process is the runtime's own child, and the runtime ours
    assert task.status() == "running" and parent_of(runtime_pid) == os.getpid()
    assert b"run" in Path(f"/proc/{runtime_pid}/cmdline").read_bytes().split(b"\0")  # `runc ... run ... ID`
    with pytest.raises(FailedPrecondition, match="it is running"):
        task.start()
    task.kill(signal.SIGKILL)
    wait_until(lambda: not task.runtime.exists(task.id), message="runc run never deleted the container")
    with pytest.raises(FailedPrecondition, match="it is stopped"):
        task.kill(signal.SIGKILL)
    assert task.wait() == 137
    task.delete()


def test_a_killed_runtime_run_leaves_exit_status_255_once_its_process_has_gone(sup: Supervisor) -> None:
    """``runc run`` killed: its process lives on, orphaned; the exit is recorded only once it has gone, unknown."""
    task = sup.create_container(_id(), "127.0.0.1:5000/lab/busybox:latest", ["sleep", "0.5"]).run_task()
    os.kill(parent_of(task.pid), signal.SIGKILL)  # the `runc run` that is its parent, our child
    assert Supervisor().container(task.id).task().status() == "running"  # the truth, not the runtime's death
    assert task.wait() == 255 and task.status() == "stopped"
    assert task.delete()["exit_status"] == 255  # runc delete: nobody deleted it this time
    assert not task.runtime.exists(task.id)


def test_a_shims_process_is_signalled_only_while_it_is_still_the_shims_child(sup: Supervisor) -> None:
    """kill through a pidfd, checked against the reaper: never a process that got the pid afterwards."""
    task = sup.create_container(_id(), "127.0.0.1:5000/lab/busybox:latest", ["sleep", "60"]).new_task()
    task.start()
    assert not signal_reaped(task.dir, os.getpid(), 0)  # alive, but not the shim's child: hands off
    assert signal_reaped(task.dir, task.pid, 0)  # signal 0: the checks alone
    task.kill(signal.SIGKILL)
    assert task.wait() == 137
    assert not signal_reaped(task.dir, task.pid, 0)
    with pytest.raises(FailedPrecondition, match="it is stopped"):
        task.kill(signal.SIGKILL)
    task.delete()


def _counting_runtime(directory: Path, runtime: str) -> Path:
    """A ``runtime`` on PATH that logs every call (one line of arguments) before running the real one."""
    real = shutil.which(runtime)
    assert real is not None
    directory.mkdir()
    log = directory / "calls.log"
    log.touch()
    wrapper = directory / runtime
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    return log


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_refused_transition_makes_no_runtime_call(sup: Supervisor, runtime: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Check, then act: a verb the status forbids is refused before the runtime is asked anything.

    Every runtime command — ours and the shim's — goes through a wrapper that logs it; a
    refused call adds no line to that log.
    """
    log = _counting_runtime(tmp_path / "bin", runtime)
    monkeypatch.setenv("PATH", f"{log.parent}{os.pathsep}{os.environ['PATH']}")
    calls = lambda: log.read_text().splitlines()  # noqa: E731

    def refused(*attempts: Callable[[], object]) -> None:
        for attempt in attempts:
            before = calls()
            with pytest.raises(FailedPrecondition):
                attempt()
            assert calls() == before, "a refused call ran the runtime"

    task = sup.create_container(_id(), "127.0.0.1:5000/lab/busybox:latest", ["sleep", "60"],
                                runtime=runtime).new_task()
    assert any(" create " in call for call in calls())  # the wrapper is what labkit runs, in the shim too
    refused(task.pause, task.resume, lambda: task.exec("e1", ["true"]), task.delete)
    task.start()
    refused(task.start, task.resume, task.delete)
    task.pause()
    refused(task.pause, task.start, lambda: task.exec("e1", ["true"]), task.delete)
    task.resume()
    task.kill(signal.SIGKILL)
    assert task.wait() == 137
    refused(task.start, task.pause, task.resume, lambda: task.exec("e1", ["true"]), lambda: task.kill(9))
    process_calls = calls()
    task.delete()
    assert len(calls()) == len(process_calls) + 1 and " delete " in calls()[-1]  # and an allowed one runs it once


def _pull_and_run(root: Path) -> tuple[int, list[str]]:
    """Pull into ``root`` and run a task from the image by name, with a supervisor over the same root."""
    images.pull("127.0.0.1:5000/lab/busybox:latest", plain_http=True, root=root)
    supervisor = Supervisor(root=root)
    container = supervisor.create_container(_id(), "127.0.0.1:5000/lab/busybox:latest", ["sh", "-c", "exit 3"])
    task = container.run_task()
    status = task.wait()
    task.delete()
    container.delete()
    return status, [path.name for path in (root / "images").glob("*.json")]


@pytest.mark.registry
def test_pull_and_the_supervisor_agree_on_the_root_they_are_given(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab root is an argument: ``pull(ref, root=R)`` and ``Supervisor(root=R)`` need no ``$LABKIT_ROOT``."""
    monkeypatch.delenv("LABKIT_ROOT", raising=False)
    status, pulled = _pull_and_run(tmp_path / "root")
    assert status == 3 and len(pulled) == 1
    decoy = tmp_path / "decoy"  # and a $LABKIT_ROOT elsewhere is only a default, never used instead
    monkeypatch.setenv("LABKIT_ROOT", str(decoy))
    assert _pull_and_run(tmp_path / "other")[0] == 3
    assert not decoy.exists()
