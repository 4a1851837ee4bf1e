"""``labkit run``, ``labkit tasks`` and ``labkit containers`` as a user types them, on runc and crun."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from waiting import wait_until

from labkit.events import Exchange

pytestmark = [pytest.mark.root, pytest.mark.registry]
RUNTIMES = [pytest.param(name, marks=pytest.mark.tool(name)) for name in ("runc", "crun")]


def labkit(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labkit", *args], capture_output=True, text=True, **kwargs)


@pytest.fixture
def image(lab_root: Path, registry: str) -> Iterator[str]:
    """The lab's busybox, pulled into this test's root; every container removed afterwards."""
    ref = f"{registry}/lab/busybox:latest"
    assert labkit("pull", "--plain-http", ref).returncode == 0
    yield ref
    for line in labkit("containers", "ls").stdout.splitlines()[1:]:
        id = line.split()[0]
        labkit("tasks", "kill", "-s", "KILL", id)
        wait_until(lambda: labkit("tasks", "delete", id).returncode == 0          # noqa: B023 — called here
                   or "has no task" in labkit("tasks", "ps", id).stderr, 5)  # noqa: B023
        labkit("containers", "delete", id)


def _id() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_foreground_passes_output_through_and_exits_with_the_status(image: str, runtime: str) -> None:
    result = labkit("run", "--rm", "--runtime", runtime, image, _id(), "--", "sh", "-c",
                    "echo to-stdout; echo to-stderr >&2; exit 7")
    assert (result.returncode, result.stdout, result.stderr) == (7, "to-stdout\n", "to-stderr\n")
    assert labkit("containers", "ls").stdout.splitlines() == ["CONTAINER  IMAGE  RUNTIME"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_killed_by_sigkill_exits_137(image: str, runtime: str) -> None:
    id = _id()
    run = subprocess.Popen([sys.executable, "-m", "labkit", "run", "--rm", "--runtime", runtime, image, id,
                            "--", "sleep", "60"])
    wait_until(lambda: run.poll() is None and "RUNNING" in labkit("tasks", "ls").stdout, 10, "the task never started")
    assert labkit("tasks", "kill", "-s", "SIGKILL", id).returncode == 0
    assert run.wait(timeout=10) == 137


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_detached_exit_is_published_once_with_nobody_listening(image: str, runtime: str, lab_root: Path) -> None:
    id = _id()
    assert labkit("run", "-d", "--runtime", runtime, image, id, "--", "sh", "-c", "sleep 0.3; exit 5").returncode == 0
    assert f"{id}  " in labkit("tasks", "ls").stdout  # the command returned; the task lives on
    wait_until(lambda: "STOPPED" in labkit("tasks", "ls").stdout, 10, "the detached task never stopped")
    exits = [e.event for e in Exchange(lab_root).replay('topic=="/tasks/exit"')]
    assert [(e["id"], e["exit_status"]) for e in exits] == [(id, 5)]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tasks_verbs_and_refusals(image: str, runtime: str) -> None:
    id = _id()
    assert labkit("run", "-d", "--runtime", runtime, image, id, "--", "sleep", "60").returncode == 0
    assert labkit("tasks", "pause", id).returncode == 0
    refused = labkit("tasks", "pause", id)
    assert (refused.returncode, refused.stderr) == (1, f"labkit: cannot pause {id}: it is paused (pause needs running)\n")
    assert labkit("tasks", "ls").stdout.split()[-1] == "PAUSED"
    assert labkit("tasks", "resume", id).returncode == 0
    exec_ = labkit("tasks", "exec", "--exec-id", "e1", id, "--", "sh", "-c", "echo in-exec; exit 3")
    assert (exec_.returncode, exec_.stdout) == (3, "in-exec\n")
    assert len(labkit("tasks", "ps", id).stdout.split()) == 2  # the header and PID 1's host pid
    for signal in ("99", "\u096f", "SIGNOPE"):  # out of range; a Devanagari nine; no such name
        refused = labkit("tasks", "kill", "-s", signal, id)
        assert (refused.returncode, refused.stderr.count("\n")) == (1, 1)
        assert refused.stderr.startswith(f"labkit: unknown signal {signal!r}: give a name")
    refused = labkit("tasks", "delete", id)
    assert refused.stderr == f"labkit: cannot delete {id}: it is running (delete needs stopped)\n"
    refused = labkit("containers", "delete", id)
    assert refused.stderr == f"labkit: cannot delete container {id}: it has a task (delete the task first)\n"
    info = labkit("containers", "info", id)
    assert f'"id": "{id}"' in info.stdout and '"cgroupsPath": "/labkit/' in info.stdout


def test_user_errors_are_one_line(image: str) -> None:
    for args, message in [
        (("run", "--rm", "-d", image, "x"), "labkit: --rm and --detach cannot be used together\n"),
        (("tasks", "pause", "nope"), "labkit: container nope not found\n"),
        (("tasks", "kill", "-s", "SIGNOPE", "nope"), "labkit: container nope not found\n"),
        (("run", "--rm", image, "bad/id"), None),
    ]:
        result = labkit(*args)
        assert result.returncode == 1 and result.stderr.count("\n") == 1 and result.stderr.startswith("labkit: ")
        assert message is None or result.stderr == message


def test_a_task_that_cannot_be_created_leaves_no_container_behind(image: str) -> None:
    result = labkit("run", "--rm", image, _id(), "--", "no-such-program")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("labkit: runc create cli-")  # runc's own line comes first
    assert "no-such-program" in result.stderr.splitlines()[-1]
    assert labkit("containers", "ls").stdout.splitlines() == ["CONTAINER  IMAGE  RUNTIME"]
