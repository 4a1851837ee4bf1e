"""``labkit serve``: a foreground server that ctr can talk to, stopped cleanly by SIGTERM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labkit.api import protos


@pytest.mark.tool("ctr")
def test_serve_answers_ctr_and_stops_on_sigterm(lab_root: Path) -> None:
    protos.generate()
    server = subprocess.Popen([sys.executable, "-m", "labkit", "--root", str(lab_root), "serve"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline() == f"labkit: serving containerd's API on unix://{lab_root}/labkit.sock\n"
        listed = subprocess.run(["ctr", "--address", str(lab_root / "labkit.sock"), "containers", "ls"],
                                capture_output=True, text=True, timeout=10)
        assert (listed.returncode, listed.stdout.split()) == (0, ["CONTAINER", "IMAGE", "RUNTIME"])
    finally:
        server.terminate()
        assert server.wait(timeout=10) == 0
    assert server.stderr.read() == ""
    assert not (lab_root / "labkit.sock").exists()


def test_serve_on_a_chosen_socket(lab_root: Path, tmp_path: Path) -> None:
    protos.generate()
    socket = tmp_path / "api.sock"
    server = subprocess.Popen([sys.executable, "-m", "labkit", "serve", "--address", str(socket)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline() == f"labkit: serving containerd's API on unix://{socket}\n"
        assert socket.is_socket()
    finally:
        server.terminate()
        server.wait(timeout=10)
