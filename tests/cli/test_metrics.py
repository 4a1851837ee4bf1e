"""``labkit metrics serve`` scraped over HTTP, and ``labkit tasks metrics ID``, on a task started by ``labkit run -d``."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from waiting import wait_until

from labkit import cgroups
from labkit.cli import main
from labkit.supervisor import Supervisor


@pytest.fixture
def container(lab_root: Path, registry: str) -> Iterator[str]:
    """``labkit run -d`` of busybox ``sleep 60``; killed, deleted and removed afterwards."""
    container_id = f"clim-{uuid.uuid4().hex[:8]}"
    assert main(["run", "-d", "--plain-http", f"{registry}/lab/busybox:latest", container_id, "--", "sleep", "60"]) == 0
    # `run -d` returns once runc start has released the init process; until that process has exec'd `sleep`,
    # runc's own init (a Go program, several threads) still counts in pids.current.
    comm = Path(f"/proc/{Supervisor().container(container_id).task().pid}/comm")
    wait_until(lambda: comm.read_text().strip() == "sleep", 5, "the task never exec'd sleep")
    yield container_id
    task = Supervisor().container(container_id).task()
    task.kill(9)
    task.wait()
    assert main(["tasks", "delete", container_id]) == 0
    assert main(["containers", "delete", container_id]) == 0


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.tool("runc")
def test_metrics_serve_is_scraped_and_parsed(container: str) -> None:
    server = subprocess.Popen([sys.executable, "-m", "labkit", "metrics", "serve", "--address", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = re.fullmatch(r"serving metrics at (http://127\.0\.0\.1:\d+/metrics)\n", server.stdout.readline())
        assert url, "serve says where it listens (port 0: a free one)"
        response = httpx.get(url[1], timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    pids = [s for s in families["container_pids_current"].samples if s.labels["container_id"] == container]
    assert [(s.labels["namespace"], s.value) for s in pids] == [("default", 1.0)]
    usage = [s for s in families["container_memory_usage_usage_bytes"].samples if s.labels["container_id"] == container]
    assert usage and usage[0].value > 0


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.tool("runc")
def test_tasks_metrics_prints_ctr_table(container: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["tasks", "metrics", container]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "TIMESTAMP"] and lines[1].startswith(container)
    table = dict(line.split() for line in lines[4:])
    assert lines[3].split() == ["METRIC", "VALUE"]
    assert table["pids.current"] == "1" and table["pids.limit"] == "max"
    if cgroups.version() == 2:  # ctr's names for each version's files
        assert int(table["memory.usage"]) > 0 and int(table["cpu.usage_usec"]) > 0
        assert set(table) >= {"memory.usage_limit", "memory.events.max", "memory.events.oom_kill"}
    else:
        assert int(table["memory.usage_in_bytes"]) > 0 and int(table["cpuacct.usage"]) > 0
        assert set(table) >= {"memory.limit_in_bytes", "memory.failcnt", "memory.oom_control.oom_kill"}


def test_serve_on_a_public_address_is_a_one_line_error() -> None:
    done = subprocess.run([sys.executable, "-m", "labkit", "metrics", "serve", "--address", "0.0.0.0:1"],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("labkit: metrics are served on a loopback") and done.stderr.count("\n") == 1
