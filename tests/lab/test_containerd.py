"""The real containerd, run privately under the lab root and driven with ctr."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from labkit import cgroups
from labkit.errors import FailedPrecondition, NotFound
from labkit.lab.containerd import Containerd

pytestmark = [pytest.mark.root, pytest.mark.tool("containerd", "ctr", "runc", "containerd-shim-runc-v2")]

BUSYBOX = "lab/busybox:latest"


def test_runs_on_its_own_socket_under_the_lab_root(lab_root: Path) -> None:
    with Containerd(lab_root) as containerd:
        assert containerd.address == lab_root / "containerd/containerd.sock"
        assert containerd.address.is_socket()
        config = (lab_root / "containerd/config.toml").read_text()
        assert f'root = "{lab_root}/containerd/root"' in config
        assert "/run/containerd/containerd.sock" not in config
        assert "Server:" in containerd.ctr("version").stdout
        pid = containerd.pid
    assert containerd.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with socket.socket(socket.AF_UNIX) as sock, pytest.raises(OSError):
        sock.connect(str(containerd.address))


def test_ctr_needs_a_running_daemon(lab_root: Path) -> None:
    with pytest.raises(FailedPrecondition, match="not running"):
        Containerd(lab_root).ctr("version")


@pytest.mark.registry
def test_pull_and_run_the_lab_image(lab_root: Path, registry: str) -> None:
    with Containerd(lab_root) as containerd:
        containerd.pull(f"{registry}/{BUSYBOX}")
        assert f"{registry}/{BUSYBOX}" in containerd.ctr("images", "ls", "--quiet").stdout.split()
        result = containerd.run(f"{registry}/{BUSYBOX}", "ctd-run", "sh", "-c", "echo hello; exit 3")
        assert (result.returncode, result.stdout) == (3, "hello\n")
        assert containerd.ctr("containers", "ls", "--quiet").stdout == ""  # --rm removed it
        assert not cgroups.Cgroup("containerd-ctd-run").exists()


@pytest.mark.registry
def test_stop_removes_what_was_left_running(lab_root: Path, registry: str) -> None:
    with Containerd(lab_root) as containerd:
        containerd.pull(f"{registry}/{BUSYBOX}")
        containerd.run(f"{registry}/{BUSYBOX}", "ctd-left", "sleep", "600", detach=True)
        assert "RUNNING" in containerd.ctr("tasks", "ls").stdout
        pid = int(containerd.ctr("tasks", "ls").stdout.split()[-2])
        assert pid in cgroups.Cgroup("containerd-ctd-left").procs()  # under labkit's parent, apart from labkit's ids
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not cgroups.Cgroup("containerd-ctd-left").exists()


@pytest.mark.registry
def test_pulling_a_missing_image_is_not_found(lab_root: Path, registry: str) -> None:
    with Containerd(lab_root) as containerd, pytest.raises(NotFound, match="ctr images pull"):
        containerd.pull(f"{registry}/lab/no-such-image:latest")
