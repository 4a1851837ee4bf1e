"""The fork server: commands run in its children exactly as they would run alone, and it never runs stale code.

Whether a command was served is asked of ``forward()`` itself, in a client process of its own
(:func:`client`): it returns ``None`` when the command must run in the caller instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import labkit
from labkit.cli import forkserver

CLIENT = """
import sys
from labkit.cli.forkserver import forward
status = forward(sys.argv[1:])
print("served" if status is not None else "not served", file=sys.stderr)
sys.exit(status or 0)
"""


def client(*argv: str, python_path: Path | None = None, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A ``labkit`` client process that only forwards (it never runs the command itself)."""
    env = dict(env or os.environ, **({"PYTHONPATH": str(python_path)} if python_path else {}))
    return subprocess.Popen([sys.executable, "-c", CLIENT, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd="/")  # not the checkout: `python -c` imports from its cwd first


def forwarded(*argv: str, **kwargs: Path | dict[str, str] | None) -> tuple[int, str, str]:
    """Forward ``argv``; its exit status, stdout, and stderr (ending with "served" or "not served")."""
    process = client(*argv, **kwargs)  # type: ignore[arg-type]
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, stdout, stderr


@pytest.fixture
def server(lab_root: Path) -> Iterator[int]:
    """A fork server for this test's lab root, with this checkout's code; stopped afterwards."""
    pid = forkserver.start(lab_root)
    yield pid
    forkserver.stop(lab_root)


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_the_root_option_is_read_without_argparse() -> None:
    assert forkserver.split_root(["--root", "/x", "run", "a"]) == ("/x", ["run", "a"])
    assert forkserver.split_root(["--root=/x", "images"]) == ("/x", ["images"])
    assert forkserver.split_root(["images", "--root", "/x"]) == (None, ["images", "--root", "/x"])
    assert forkserver.split_root([]) == (None, [])


def test_without_a_server_the_command_runs_in_the_caller(lab_root: Path) -> None:
    assert forwarded("containers", "ls") == (0, "", "not served\n")


def test_a_served_command_prints_and_fails_as_it_would_alone(server: int, lab_root: Path) -> None:
    assert forwarded("containers", "ls") == (0, "CONTAINER  IMAGE  RUNTIME\n", "served\n")
    status, stdout, stderr = forwarded("containers", "info", "nope")
    assert (status, stdout, stderr) == (1, "", "labkit: container nope not found\nserved\n")
    status, _, stderr = forwarded("containers", "--no-such-option")
    assert status == 2 and "usage: labkit containers" in stderr and stderr.endswith("served\n")


def test_lab_and_serve_always_run_in_their_own_process(server: int) -> None:
    assert forkserver.forward(["lab", "status"]) is None
    assert forkserver.forward(["--root", "/elsewhere", "serve", "--help"]) is None


def test_the_root_option_picks_the_server(server: int, lab_root: Path, tmp_path: Path) -> None:
    env = dict(os.environ, LABKIT_ROOT=str(tmp_path / "other"))
    assert forwarded("containers", "ls", env=env)[2] == "not served\n"
    assert forwarded("--root", str(lab_root), "containers", "ls", env=env)[2] == "served\n"


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.tool("runc")
def test_a_served_run_uses_the_callers_directory_environment_and_umask(server: int, lab_root: Path,
                                                                       registry: str, tmp_path: Path) -> None:
    ref = f"{registry}/lab/busybox:latest"
    umask = "umask 027; exec \"$@\""
    unpacked = subprocess.run(["sh", "-c", umask, "sh", sys.executable, "-c", CLIENT, "unpack", "--plain-http", ref,
                               "rootfs"], cwd=tmp_path, capture_output=True, text=True)
    assert unpacked.stderr.endswith("served\n") and unpacked.returncode == 0, unpacked.stderr
    assert (tmp_path / "rootfs/bin/busybox").is_file()
    assert (lab_root / "content").stat().st_mode & 0o777 == 0o750  # made under the caller's umask
    status, stdout, stderr = forwarded("run", "--rm", ref, f"fs-{uuid.uuid4().hex[:8]}", "--",
                                       "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (status, stdout, stderr) == (7, "out\n", "err\nserved\n")


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.tool("runc")
def test_signals_reach_the_served_command_and_a_vanished_client_hangs_it_up(server: int, registry: str) -> None:
    ref = f"{registry}/lab/busybox:latest"
    script = "trap 'exit 5' INT; echo ready; while true; do sleep 0.05; done"
    run = client("run", "--rm", "--plain-http", ref, f"fs-{uuid.uuid4().hex[:8]}", "--", "sh", "-c", script)
    assert run.stdout is not None and run.stdout.readline() == "ready\n"
    run.send_signal(signal.SIGINT)  # Ctrl-C: the client passes it on, `labkit run` to the task
    assert run.wait(timeout=30) == 5
    deadline = time.monotonic() + 10
    while len(_children(server)) != 1:  # the run's child may take a moment to be gone
        assert time.monotonic() < deadline, "the served `labkit run` never ended"
        time.sleep(0.02)
    [spare] = _children(server)  # waiting for the next client
    follower = client("events")  # follows until interrupted
    while len(_children(server)) < 2:  # the spare has taken it, and a new spare waits
        assert time.monotonic() < deadline, "the server's spare never took `labkit events`"
        time.sleep(0.02)
    follower.kill()  # no chance to pass anything on: the child must notice that its client is gone
    follower.wait()
    while spare in _children(server):
        assert time.monotonic() < deadline + 10, "the served `labkit events` outlived its client"
        time.sleep(0.02)


def test_a_server_of_other_code_refuses_and_a_stale_one_replaces_itself(lab_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(Path(labkit.__file__).parent, copy / "labkit", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(copy))
    started = subprocess.run([sys.executable, "-c", "import sys, pathlib, labkit.cli.forkserver as f; "
                              "print(f.start(pathlib.Path(sys.argv[1])))", str(lab_root)],
                             env=env, cwd="/", capture_output=True, text=True, check=True)
    pid = int(started.stdout)
    try:
        assert forwarded("containers", "ls")[2] == "not served\n"  # this checkout's client, the copy's server
        assert forwarded("containers", "ls", python_path=copy)[2] == "served\n"
        (copy / "labkit/errors.py").touch()  # an edit, as far as the server can tell
        assert forwarded("containers", "ls", python_path=copy)[2] == "not served\n"
        deadline = time.monotonic() + 30
        while forwarded("containers", "ls", python_path=copy)[2] != "served\n":  # the same pid, new code
            assert time.monotonic() < deadline, "the stale server never came back"
            time.sleep(0.1)
        assert forkserver.status(lab_root) == pid
    finally:
        forkserver.stop(lab_root)


def test_stop_removes_the_socket_and_start_replaces_a_running_server(lab_root: Path) -> None:
    first = forkserver.start(lab_root)
    second = forkserver.start(lab_root)
    assert first != second and forkserver.status(lab_root) == second
    deadline = time.monotonic() + 5
    while len(_processes_serving(lab_root)) != 2:  # the server and its spare, waiting for the next client
        assert time.monotonic() < deadline, "no spare waits for the next client"
        time.sleep(0.02)
    forkserver.stop(lab_root)
    assert forkserver.status(lab_root) is None and not (lab_root / forkserver.SOCKET).exists()
    while _processes_serving(lab_root):  # the spare leaves with its server
        assert time.monotonic() < deadline, "a spare outlived its fork server"
        time.sleep(0.02)


def _processes_serving(root: Path) -> list[int]:
    """Every process whose command line names this root's fork server socket: the server and its spare."""
    socket = str(root / forkserver.SOCKET).encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if socket in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:  # it has just exited
            pass
    return found
