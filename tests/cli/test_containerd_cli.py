"""``labkit containerd start|status|stop`` from a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.tool("containerd", "ctr")]


def labkit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labkit", "--root", str(root), "containerd", *args],
                          capture_output=True, text=True, timeout=30)


def test_start_status_stop(lab_root: Path) -> None:
    started = labkit(lab_root, "start")
    try:
        assert (started.returncode, started.stdout) == (0, f"{lab_root}/containerd/containerd.sock\n")
        status = labkit(lab_root, "status")
        assert status.returncode == 0
        assert status.stdout.startswith("running: pid ") and status.stdout.endswith(f"{started.stdout}")
        version = subprocess.run(["ctr", "--address", started.stdout.strip(), "version"], capture_output=True, text=True)
        assert "Server:" in version.stdout
    finally:
        assert labkit(lab_root, "stop").returncode == 0
    assert (labkit(lab_root, "status").returncode, labkit(lab_root, "status").stdout) == (3, "stopped\n")
