"""labkit.metrics: numbers read from a task's cgroup, the Prometheus text, and OOM kills.

Reading and exporting use plain processes put into cgroups ``/labkit/<id>`` made with
``labkit.cgroups`` (where runc puts a container with ``cgroupsPath: /labkit/<id>``);
listing and the OOM kill use real tasks of the supervisor.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from waiting import wait_until

from labkit import cgroups, images, metrics, snapshots
from labkit.errors import InvalidArgument, NotFound
from labkit.paths import registry_address
from labkit.supervisor import Supervisor

MiB = 1 << 20
BUSYBOX = f"{registry_address()}/lab/busybox:latest"


@pytest.fixture
def task() -> Iterator[Callable[..., tuple[str, subprocess.Popen[str]]]]:
    """Start ``python -c CODE`` in a fresh cgroup ``/labkit/<id>`` with a memory limit; clean up after."""
    made: list[tuple[cgroups.Cgroup, subprocess.Popen[str]]] = []

    def start(code: str, memory_limit: int = 64 * MiB) -> tuple[str, subprocess.Popen[str]]:
        group = cgroups.create(f"metrics-{uuid.uuid4().hex[:8]}", memory=memory_limit)
        proc = subprocess.Popen([sys.executable, "-c", code], preexec_fn=lambda: group.add(os.getpid()), text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        made.append((group, proc))
        return group.name, proc

    yield start
    for group, proc in made:
        proc.kill()
        proc.wait()
        group.remove()


BUSY = "import sys\nsys.stdin.readline()\nblock = bytearray(8 << 20)\nwhile True: pass"


@pytest.mark.root
def test_read_reports_cpu_memory_and_pids(task) -> None:
    container_id, proc = task(BUSY, memory_limit=48 * MiB)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    m = wait_until(lambda: (m := metrics.read(container_id)).cgroup.cpu_usage_ns > 50_000_000
                   and m.cgroup.memory_usage > 8 * MiB and m, 10, "the task never used its CPU and memory")
    assert m.cgroup.memory_limit == 48 * MiB
    assert 8 * MiB < m.cgroup.memory_usage < 48 * MiB and m.cgroup.memory_peak >= m.cgroup.memory_usage
    assert m.cgroup.cpu_usage_ns > 50_000_000 and m.cpu_user_ns > 0
    assert m.cgroup.pids_current == 1 and m.cgroup.pids_limit is None
    assert m.cgroup.memory_limit_hits == 0 and m.cgroup.oom_kills == 0


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
    address, stop = metrics.serve("127.0.0.1:0", tasks=lambda: [container_id])
    try:
        text = httpx.get(f"http://{address}/metrics", timeout=5).text
    finally:
        stop()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    assert any(s.name == "container_pids_current" and s.labels["container_id"] == container_id for s in samples)


def test_serve_refuses_a_non_loopback_address() -> None:
    with pytest.raises(InvalidArgument, match="loopback"):
        metrics.serve("0.0.0.0:9100")


@pytest.fixture
def sup(lab_root: Path, registry: str) -> Iterator[Supervisor]:
    """A supervisor with the lab's busybox pulled; its containers removed afterwards."""
    snapshots.unpack(images.pull(BUSYBOX, plain_http=True), snapshots.get("overlay", lab_root))
    supervisor = Supervisor()
    yield supervisor
    for container in supervisor.containers():
        try:
            task = container.task()
            if task.status() != "stopped":
                task.kill(9)
            task.wait()
            task.delete()
        except NotFound:
            pass
        container.delete()


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.tool("runc")
def test_running_lists_the_supervisors_live_tasks(sup: Supervisor) -> None:
    sleeper = sup.create_container(f"mt-{uuid.uuid4().hex[:8]}", BUSYBOX, ["sleep", "60"])
    created = sup.create_container(f"mt-{uuid.uuid4().hex[:8]}", BUSYBOX, ["true"])
    sleeper.new_task().start()
    created.new_task()
    assert metrics.running(sup) == [sleeper.id]


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.tool("runc")
def test_oom_kill_is_an_event_and_counted(sup: Supervisor) -> None:
    container = sup.create_container(f"oom-{uuid.uuid4().hex[:8]}", BUSYBOX,
                                     ["tail", "/dev/zero"], memory=16 * MiB)
    sub = sup.subscribe('topic=="/tasks/oom"')
    watcher = metrics.OOMWatcher(sup.publish)
    try:
        task = container.new_task()
        watcher.add(container.id)
        task.start()
        assert task.wait() == 137  # 128 + SIGKILL, from the OOM killer
        envelope = sub.recv(timeout=5)
        assert envelope is not None and envelope.event == {"container_id": container.id}
        m = metrics.read(container.id)
        assert m.cgroup.memory_limit_hits > 0 and m.cgroup.oom_kills == 1
        families = {f.name: f for f in text_string_to_metric_families(metrics.exposition(lambda: [container.id]))}
        assert families["container_memory_usage_failcnt_total"].samples[0].value == m.cgroup.memory_limit_hits
        assert families["container_memory_oom"].samples[0].value == 1
    finally:
        watcher.close()
