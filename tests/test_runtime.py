"""labkit.runtime against the real runc and crun, on a bundle made by hand from busybox-static."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from waiting import wait_until

from labkit import cgroups
from labkit.errors import FailedPrecondition, InvalidArgument, LabkitError, NotFound
from labkit.runtime import Runtime, _one_line

pytestmark = [pytest.mark.root]
RUNTIMES = [pytest.param(name, marks=pytest.mark.tool(name)) for name in ("runc", "crun")]

PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37  # <linux/prctl.h>


def make_bundle(directory: Path, args: list[str], id: str) -> Path:
    """busybox-static and its applets in ``rootfs/bin``, and ``runc spec``'s config with ``args``."""
    bin_dir = directory / "rootfs" / "bin"
    bin_dir.mkdir(parents=True)
    shutil.copy("/bin/busybox", bin_dir / "busybox")
    applets = subprocess.run([str(bin_dir / "busybox"), "--list"], capture_output=True, text=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (bin_dir / applet).symlink_to("busybox")
    for name in ("proc", "sys", "dev", "tmp"):
        (directory / "rootfs" / name).mkdir()
    subprocess.run(["runc", "spec", "--bundle", str(directory)], check=True)
    config = json.loads((directory / "config.json").read_text())
    config["process"].update(args=args, terminal=False)
    config["linux"]["cgroupsPath"] = f"/labkit/{id}"
    (directory / "config.json").write_text(json.dumps(config))
    return directory


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, lab_root: Path) -> Runtime:
    return Runtime(request.param)


@pytest.fixture
def sleeper(runtime: Runtime, tmp_path: Path) -> Iterator[str]:
    """A created (not started) container running ``sleep 60``; force-deleted afterwards."""
    id = f"rt-{uuid.uuid4().hex[:8]}"
    bundle = make_bundle(tmp_path / "bundle", ["sleep", "60"], id)
    runtime.create(id, bundle, pid_file=tmp_path / "pid", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield id
    subprocess.run(runtime.command("delete", "--force", id), capture_output=True)
    remove_cgroups(id)


def remove_cgroups(id: str) -> None:
    """Remove ``/labkit/<id>`` where ``delete`` could not: a killed exec'd process, not ours to reap,
    may still sit in it as a zombie for a moment."""
    for cgroup in cgroups.Cgroup(id).dirs():
        deadline = time.monotonic() + 5
        while cgroup.exists():
            try:
                cgroup.rmdir()
            except OSError:
                assert time.monotonic() < deadline, f"{cgroup} stays busy"
                time.sleep(0.02)


def _wait_status(runtime: Runtime, id: str, status: str) -> None:
    wait_until(lambda: runtime.state(id).status == status, 5, f"{id} never became {status}")


@pytest.mark.parametrize("name", RUNTIMES)
def test_state_lives_under_the_lab_root(name: str, lab_root: Path) -> None:
    assert Runtime(name).root == lab_root / name
    assert Runtime(name).command("state", "x")[1:] == ["--root", str(lab_root / name), "state", "x"]


def test_an_unknown_runtime_is_refused(lab_root: Path) -> None:
    with pytest.raises(InvalidArgument, match="unknown runtime 'kata'"):
        Runtime("kata")


def test_lifecycle_by_hand(runtime: Runtime, sleeper: str, tmp_path: Path) -> None:
    state = runtime.state(sleeper)
    assert (state.status, state.pid) == ("created", int((tmp_path / "pid").read_text()))
    assert Path(state.bundle) == tmp_path / "bundle"
    runtime.start(sleeper)
    assert runtime.state(sleeper).status == "running"
    assert runtime.ps(sleeper) == [state.pid]
    runtime.pause(sleeper)
    assert runtime.state(sleeper).status == "paused"
    assert cgroups.Cgroup(sleeper).frozen()  # v1 freezer.state FROZEN, v2 cgroup.events "frozen 1"
    runtime.resume(sleeper)
    assert not cgroups.Cgroup(sleeper).frozen()
    runtime.kill(sleeper, signal.SIGKILL)
    _wait_status(runtime, sleeper, "stopped")
    runtime.delete(sleeper)
    assert sleeper not in [s.id for s in runtime.containers()]
    with pytest.raises(NotFound, match=f"{runtime.name} state {sleeper}: "):
        runtime.state(sleeper)


def test_wrong_verbs_are_failed_preconditions(runtime: Runtime, sleeper: str) -> None:
    runtime.start(sleeper)
    with pytest.raises(FailedPrecondition):
        runtime.start(sleeper)
    with pytest.raises(FailedPrecondition, match="delete"):
        runtime.delete(sleeper)
    assert runtime.state(sleeper).status == "running"


def test_exec_runs_a_second_process(runtime: Runtime, sleeper: str, tmp_path: Path) -> None:
    runtime.start(sleeper)
    process = {**json.loads((tmp_path / "bundle" / "config.json").read_text())["process"], "args": ["sleep", "30"]}
    (tmp_path / "exec").mkdir()
    pid = runtime.exec(sleeper, process, pid_file=tmp_path / "exec" / "pid")
    assert sorted(runtime.ps(sleeper)) == sorted([runtime.state(sleeper).pid, pid])


def test_update_and_stats(runtime: Runtime, sleeper: str) -> None:
    runtime.start(sleeper)
    runtime.update(sleeper, {"pids": {"limit": 42}})
    assert cgroups.Cgroup(sleeper).file("pids_limit").read_text().strip() == "42"
    if runtime.name == "crun":
        with pytest.raises(LabkitError, match="crun has no 'events'"):
            runtime.stats(sleeper)
    else:
        assert runtime.stats(sleeper)["pids"]["current"] == 1


def test_a_create_failure_is_one_line_from_the_log(runtime: Runtime, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "bundle", ["no-such-program"], "rt-missing")
    with pytest.raises(LabkitError) as caught:
        runtime.create("rt-missing", bundle, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(runtime.command("delete", "--force", "rt-missing"), capture_output=True)
    assert str(caught.value).startswith(f"{runtime.name} create rt-missing: ")
    assert "no-such-program" in str(caught.value) and "\n" not in str(caught.value)


def test_logrus_lines_are_unwrapped() -> None:
    line = 'time="2026-01-01T00:00:00Z" level=error msg="container \\"x\\" does not exist"\n'
    assert _one_line(line) == 'container "x" does not exist'
    assert _one_line("") == "failed without a message"


@pytest.fixture
def not_a_subreaper() -> Iterator[None]:
    """This process as a plain parent: earlier tests (a no-shim Supervisor) may have made it a subreaper."""
    libc = ctypes.CDLL(None, use_errno=True)
    was = ctypes.c_int()
    libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(was), 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, was.value, 0, 0, 0)


def test_the_driver_needs_no_subreaper_to_create(not_a_subreaper: None, runtime: Runtime, sleeper: str) -> None:
    """create returns at once: init waits on exec.fifo, re-parented away from us (reference.md, Detached)."""
    pid = runtime.state(sleeper).pid
    ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert ppid != os.getpid()


def test_run_returns_once_started_and_deletes_the_container_itself(runtime: Runtime, tmp_path: Path) -> None:
    """``run``: create and start in one command that stays the process's parent and exits with its status."""
    id = f"rt-{uuid.uuid4().hex[:8]}"
    bundle = make_bundle(tmp_path / "bundle", ["sh", "-c", "sleep 0.2; exit 5"], id)
    proc = runtime.run(id, bundle, pid_file=tmp_path / "pid", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert runtime.state(id).status == "running" and runtime.state(id).pid == int((tmp_path / "pid").read_text())
        assert proc.wait(timeout=10) == 5
        assert not runtime.exists(id)
    finally:
        proc.kill()
        proc.wait()
        subprocess.run(runtime.command("delete", "--force", id), capture_output=True)
        remove_cgroups(id)


def test_a_run_failure_is_one_line_from_the_log(runtime: Runtime, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "bundle", ["no-such-program"], "rt-missing-run")
    with pytest.raises(LabkitError) as caught:
        runtime.run("rt-missing-run", bundle, pid_file=tmp_path / "pid", stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
    subprocess.run(runtime.command("delete", "--force", "rt-missing-run"), capture_output=True)
    remove_cgroups("rt-missing-run")
    assert str(caught.value).startswith(f"{runtime.name} create rt-missing-run: ")  # it never started
    assert "no-such-program" in str(caught.value) and "\n" not in str(caught.value)


class _Interrupted(Exception):
    pass


def _interrupt_once_running(id: str, delay: float, armed: threading.Event) -> threading.Thread:
    """A thread that waits for this process's ``runc ... run ... ID`` child, then SIGALRMs us after ``delay``."""

    def watch() -> None:
        children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
        deadline = time.monotonic() + 10
        while armed.is_set() and time.monotonic() < deadline:
            for child in children.read_text().split():
                try:
                    if id.encode() in Path(f"/proc/{child}/cmdline").read_bytes():
                        time.sleep(delay)
                        if armed.is_set():
                            os.kill(os.getpid(), signal.SIGALRM)
                        return
                except FileNotFoundError:
                    pass
            time.sleep(0.0005)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def test_an_interrupted_run_leaves_no_container(runtime: Runtime, tmp_path: Path) -> None:
    """Whenever ``run`` is interrupted once runc is running (a Ctrl-C in a notebook), nothing is left behind."""
    armed = threading.Event()

    def interrupt(_signum: int, _frame: object) -> None:
        if armed.is_set():
            raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    interrupted = 0
    try:
        for delay_ms in (1, 5, 10, 15, 20):
            id = f"rt-{uuid.uuid4().hex[:8]}"
            bundle = make_bundle(tmp_path / id, ["sleep", "60"], id)
            armed.set()
            watcher = _interrupt_once_running(id, delay_ms / 1000, armed)
            try:
                proc = runtime.run(id, bundle, pid_file=tmp_path / f"{id}.pid", stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            except _Interrupted:
                interrupted += 1
                assert not runtime.exists(id) and not cgroups.Cgroup(id).exists()
            else:  # it was faster than the interruption: nothing to check for this delay
                armed.clear()
                subprocess.run(runtime.command("delete", "--force", id), capture_output=True)
                proc.wait()
                remove_cgroups(id)
            finally:
                armed.clear()
                watcher.join()
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert interrupted
