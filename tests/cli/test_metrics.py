"""``labkit metrics serve`` scraped over HTTP, and ``tasks metrics ID``, on a real runc container."""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from labkit.cli.metrics import add_task_metrics


@pytest.fixture
def container(tmp_path: Path) -> Iterator[str]:
    """A busybox ``sleep`` started with ``runc run -d`` in cgroups ``/labkit/<id>``; deleted afterwards."""
    container_id = f"clim-{uuid.uuid4().hex[:8]}"
    bundle, state = tmp_path / "bundle", tmp_path / "runc"
    (bundle / "rootfs/bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", bundle / "rootfs/bin/busybox")
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"].update(terminal=False, args=["/bin/busybox", "sleep", "60"])
    config["root"]["readonly"] = False
    config["linux"]["cgroupsPath"] = f"/labkit/{container_id}"
    (bundle / "config.json").write_text(json.dumps(config))
    runc = ["runc", "--root", str(state)]
    subprocess.run([*runc, "run", "-d", "--bundle", str(bundle), container_id],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield container_id
    subprocess.run([*runc, "delete", "--force", container_id], check=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.root
@pytest.mark.tool("runc", "busybox")
def test_metrics_serve_is_scraped_and_parsed(container: str) -> None:
    address = f"127.0.0.1:{_free_port()}"
    server = subprocess.Popen([sys.executable, "-m", "labkit", "metrics", "serve", "--address", address],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == f"serving metrics at http://{address}/metrics"
        response = httpx.get(f"http://{address}/metrics", timeout=5)
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
@pytest.mark.tool("runc", "busybox")
def test_tasks_metrics_prints_ctr_table(container: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_task_metrics(parser.add_subparsers())
    args = parser.parse_args(["metrics", container])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "TIMESTAMP"] and lines[1].startswith(container)
    table = dict(line.split() for line in lines[4:])
    assert lines[3].split() == ["METRIC", "VALUE"]
    assert table["pids.current"] == "1" and int(table["memory.usage_in_bytes"]) > 0
    assert set(table) >= {"cpuacct.usage", "memory.limit_in_bytes", "memory.failcnt", "pids.limit"}


def test_serve_on_a_public_address_is_a_one_line_error() -> None:
    done = subprocess.run([sys.executable, "-m", "labkit", "metrics", "serve", "--address", "0.0.0.0:1"],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("labkit: metrics are served on a loopback") and done.stderr.count("\n") == 1
