"""The README's lab command: set-up, the registry, then JupyterLab answering on its URL."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

TOP = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.root
@pytest.mark.slow
def test_run_lab_serves_jupyterlab_with_the_notebooks() -> None:
    port = _free_port()
    lab = subprocess.Popen([str(TOP / "run"), "lab"], cwd=TOP, env={**os.environ, "LAB_PORT": str(port)},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        for line in lab.stdout:
            if match := re.search(rf"(http://127\.0\.0\.1:{port}/lab\?token=\w+)", line):
                url = match.group(1)
                break
            assert time.monotonic() < deadline, "JupyterLab did not print its URL in time"
        assert url, "./run lab ended without printing JupyterLab's URL"
        assert httpx.get(url, timeout=10).status_code == 200
        token = url.rpartition("=")[2]
        listing = httpx.get(f"http://127.0.0.1:{port}/api/contents", params={"token": token}, timeout=10).json()
        assert "00-big-picture.ipynb" in {item["name"] for item in listing["content"]}
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
