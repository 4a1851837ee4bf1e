"""Crash recovery: the process that started the tasks dies (kill -9), the lab recovers and cleans up.

A notebook kernel or a ``labkit`` command killed mid-lesson must not take its
containers down with it, nor leave them unreachable: each task runs under its own
shim, and everything the supervisor knows is on disk. A new ``Supervisor`` finds the
containers again, reports each task's true status (the runtime's, or the exit its
shim recorded), can kill and delete them, and their exits are published once each.
``labkit lab clean`` then removes whatever a crash left half-made.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from waiting import wait_until

from labkit import cgroups, images, snapshots
from labkit.events.journal import Journal
from labkit.runtime import Runtime
from labkit.supervisor import Supervisor

from .conftest import Clean

pytestmark = [pytest.mark.root, pytest.mark.registry, pytest.mark.tool("runc")]

IMAGE = "127.0.0.1:5000/lab/busybox:latest"

#: the doomed process: five running tasks, one created and never started, then containers made without end
CHILD = """
import itertools, sys
from labkit.supervisor import Supervisor
prefix, image = sys.argv[1], sys.argv[2]
sup = Supervisor()
for n in range(5):
    sup.create_container(f"{prefix}-{n}", image, ["sleep", "600"]).new_task().start()
sup.create_container(f"{prefix}-created", image, ["sleep", "600"]).new_task()
print("ready", flush=True)
for n in itertools.count():  # killed somewhere in here: a container half made
    sup.create_container(f"{prefix}-loop{n}", image, ["sleep", "600"]).new_task().start()
"""


def _shims(root: Path) -> list[int]:
    """Live shim processes working for this lab root."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"labkit.shim" in cmdline and any(str(root).encode() in part for part in cmdline):
            found.append(int(proc.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.fixture
def prefix() -> str:
    """This test's container ids start with it."""
    return f"crash-{uuid.uuid4().hex[:6]}"


def test_tasks_outlive_a_killed_supervisor_and_a_new_one_takes_over(lab_root: Path, registry: str, prefix: str,
                                                                    lab_clean_here: Clean) -> None:
    snapshots.unpack(images.pull(f"{registry}/lab/busybox:latest", plain_http=True), snapshots.get("overlay"))
    doomed = subprocess.Popen([sys.executable, "-c", CHILD, prefix, IMAGE], stdout=subprocess.PIPE, text=True)
    try:
        assert doomed.stdout.readline() == "ready\n"
        # let it get into the middle of making another one: its record is there, its task may not be
        wait_until(lambda: (lab_root / "containers" / f"{prefix}-loop0").exists(), 20, "the loop never began")
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    running = [f"{prefix}-{n}" for n in range(5)]

    # The containers keep running under their shims; a new supervisor finds them, with their true status.
    sup = Supervisor()
    sub = sup.subscribe('topic=="/tasks/exit"')
    found = {container.id: container for container in sup.containers()}
    assert set(running) | {f"{prefix}-created"} <= set(found)
    pids = {id: found[id].task().pid for id in running}
    assert all(_alive(pid) for pid in pids.values())
    assert [found[id].task().status() for id in running] == ["running"] * 5
    assert found[f"{prefix}-created"].task().status() == "created"

    # One dies while nobody is watching: its shim still records and publishes the exit.
    os.kill(pids[running[0]], signal.SIGKILL)
    assert found[running[0]].task().wait() == 128 + signal.SIGKILL
    assert found[running[0]].task().status() == "stopped"

    # The new supervisor kills and deletes the others; every exit is published exactly once.
    for id in [*running[1:], f"{prefix}-created"]:
        task = found[id].task()
        task.kill(signal.SIGKILL)
        assert task.wait() == 128 + signal.SIGKILL
    for id in [*running, f"{prefix}-created"]:
        assert found[id].task().delete()["exit_status"] == 128 + signal.SIGKILL
        found[id].delete()
    exits = Counter(envelope.event["container_id"] for envelope in Journal(lab_root / "events.jsonl").read()
                    if envelope.topic == "/tasks/exit")
    assert all(exits[id] == 1 for id in [*running, f"{prefix}-created"]), exits
    published = {envelope.event["container_id"] for envelope in iter(lambda: sub.recv(timeout=0.5), None)}
    assert published >= set(running[1:])

    # What the crash left half-made (the loop's containers), clean removes, down to the snapshots.
    report = lab_clean_here()
    assert any(line.startswith(f"removed container record {prefix}-loop") for line in report), report
    assert Runtime("runc", lab_root / "runc").containers() == []
    assert not (lab_root / "containers").exists() or list((lab_root / "containers").iterdir()) == []
    assert [info.kind for info in snapshots.get("overlay").walk()] == ["committed"]
    assert str(lab_root) not in Path("/proc/self/mountinfo").read_text()
    assert not [name for name in cgroups.groups() if name.startswith(f"{prefix}-")]
    wait_until(lambda: _shims(lab_root) == [], 5, f"shims left: {_shims(lab_root)}")
    again = sup.create_container(f"{prefix}-loop0", IMAGE, ["true"])  # its id and snapshot key are free again
    again.delete()


def test_a_killed_foreground_run_leaves_a_task_a_new_supervisor_can_finish(lab_root: Path, registry: str, prefix: str,
                                                                           lab_clean_here: Clean) -> None:
    """``labkit run`` in the foreground reaps its own task: killed, nobody will. The task runs on; its end is known."""
    images.pull(f"{registry}/lab/busybox:latest", plain_http=True)
    id = f"{prefix}-fg"
    run = subprocess.Popen([sys.executable, "-m", "labkit", "run", IMAGE, id, "--", "sleep", "600"],
                           stdout=subprocess.DEVNULL)
    sup = Supervisor()
    sub = sup.subscribe('topic=="/tasks/exit"')
    def running() -> bool:
        assert run.poll() is None, "labkit run exited before its task ran"
        return (sup.root / "containers" / id / "task.json").exists() and sup.container(id).task().status() == "running"

    wait_until(running, 20, "labkit run never got its task running")
    run.kill()
    run.wait()
    task = sup.container(id).task()
    assert task.status() == "running" and _alive(task.pid)
    task.kill(signal.SIGKILL)
    assert task.wait() == 255  # its reaper is gone, so its status is lost: containerd's "unknown", recorded once
    assert task.delete()["exit_status"] == 255
    sup.container(id).delete()
    published = [(e.topic, e.event["container_id"]) for e in iter(lambda: sub.recv(timeout=0.5), None)]
    assert published == [("/tasks/exit", id)]
