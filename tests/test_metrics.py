"""labkit.metrics: numbers read from a task's cgroup, the Prometheus text, and OOM kills.

The tasks here are plain processes put into cgroups ``/labkit/<id>`` that the test
makes itself, exactly where runc puts a container with ``cgroupsPath: /labkit/<id>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from labkit import metrics
from labkit.errors import InvalidArgument, NotFound

CONTROLLERS = ("memory", "cpuacct", "pids", "blkio")
MiB = 1 << 20


def _cgroup(controller: str, container_id: str) -> Path:
    return Path("/sys/fs/cgroup", controller, "labkit", container_id)


@pytest.fixture
def task() -> Iterator[Callable[..., tuple[str, subprocess.Popen[str]]]]:
    """Start ``python -c CODE`` in fresh cgroups ``/labkit/<id>`` with a memory limit; clean up after."""
    made: list[tuple[str, subprocess.Popen[str]]] = []

    def start(code: str, memory_limit: int = 64 * MiB) -> tuple[str, subprocess.Popen[str]]:
        container_id = f"metrics-{uuid.uuid4().hex[:8]}"
        for controller in CONTROLLERS:
            _cgroup(controller, container_id).mkdir(parents=True)
        memory = _cgroup("memory", container_id)
        (memory / "memory.limit_in_bytes").write_text(str(memory_limit))

        def join() -> None:
            for controller in CONTROLLERS:
                (_cgroup(controller, container_id) / "cgroup.procs").write_text(str(os.getpid()))

        proc = subprocess.Popen([sys.executable, "-c", code], preexec_fn=join, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        made.append((container_id, proc))
        return container_id, proc

    yield start
    for container_id, proc in made:
        proc.kill()
        proc.wait()
        for controller in CONTROLLERS:
            group = _cgroup(controller, container_id)
            for _ in range(50):  # a killed process leaves its cgroup a moment later
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)


pytestmark = pytest.mark.skipif(not Path("/sys/fs/cgroup/memory").is_dir(), reason="cgroup v1 host")

BUSY = "import sys\nsys.stdin.readline()\nblock = bytearray(8 << 20)\nwhile True: pass"


@pytest.mark.root
def test_read_reports_cpu_memory_and_pids(task) -> None:
    container_id, proc = task(BUSY, memory_limit=48 * MiB)
    assert container_id in metrics.running()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    time.sleep(0.3)
    m = metrics.read(container_id)
    assert m.memory_limit == 48 * MiB
    assert 8 * MiB < m.memory_usage < 48 * MiB and m.memory_max_usage >= m.memory_usage
    assert m.cpu_total_ns > 50_000_000 and m.cpu_user_ns > 0
    assert m.pids_current == 1 and m.pids_limit == 0
    assert m.memory_failcnt == 0 and m.memory_oom_kills == 0


def test_a_task_without_cgroup_is_not_found() -> None:
    with pytest.raises(NotFound, match="no cgroup"):
        metrics.read("no-such-task")


@pytest.mark.root
def test_exposition_uses_containerd_names_and_labels(task) -> None:
    container_id, _ = task(BUSY)
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition(lambda: [container_id]))}
    usage = families["container_memory_usage_usage_bytes"]
    assert usage.type == "gauge"
    assert [s.labels for s in usage.samples] == [{"container_id": container_id, "namespace": "default"}]
    limit = families["container_memory_usage_limit_bytes"].samples[0]
    assert limit.value == 64 * MiB
    assert families["container_memory_oom"].type == "counter"
    for name in ("container_cpu_total_nanoseconds", "container_pids_current", "container_memory_usage_failcnt_total"):
        assert families[name].samples[0].labels["container_id"] == container_id


@pytest.mark.root
def test_serve_in_process_on_loopback(task) -> None:
    container_id, _ = task(BUSY)
    address, stop = metrics.serve("127.0.0.1:0")
    try:
        text = httpx.get(f"http://{address}/metrics", timeout=5).text
    finally:
        stop()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    assert any(s.name == "container_pids_current" and s.labels["container_id"] == container_id for s in samples)


def test_serve_refuses_a_non_loopback_address() -> None:
    with pytest.raises(InvalidArgument, match="loopback"):
        metrics.serve("0.0.0.0:9100")


ALLOCATE = "import sys\nsys.stdin.readline()\nchunks = [bytearray(1 << 20) for _ in range(256)]"


@pytest.mark.root
def test_oom_kill_is_an_event_and_counted(task) -> None:
    oomed: list[str] = []
    seen = threading.Event()
    watcher = metrics.OOMWatcher(lambda container_id: (oomed.append(container_id), seen.set()))
    try:
        container_id, proc = task(ALLOCATE, memory_limit=32 * MiB)
        watcher.add(container_id)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.wait(timeout=20) == -9  # SIGKILL from the OOM killer
        assert seen.wait(timeout=5)
        assert set(oomed) == {container_id}
        m = metrics.read(container_id)
        assert m.memory_failcnt > 0 and m.memory_oom_kills == 1
        families = {f.name: f for f in text_string_to_metric_families(metrics.exposition(lambda: [container_id]))}
        assert families["container_memory_usage_failcnt_total"].samples[0].value == m.memory_failcnt
        assert families["container_memory_oom"].samples[0].value == 1
    finally:
        watcher.close()
