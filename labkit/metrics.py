"""Task metrics from cgroups, exported for Prometheus the way containerd does.

containerd's ``cgroups`` metrics plugin (``metrics/cgroups``) reads each task's
cgroup and exports it through ``prometheus/client_golang`` under the namespace
``container``: one metric per number, labelled ``container_id`` and ``namespace``
(``container_memory_usage_usage_bytes{container_id="web",namespace="default"}``).
labkit does the same with ``prometheus_client``'s custom-collector API: nothing is
stored, every scrape reads the kernel's files afresh.

Where the numbers come from: :meth:`labkit.cgroups.Cgroup.stats` reads what every
group has (memory usage, peak and limit, how often usage hit the limit, OOM kills, pids,
CPU time); this module adds what an exporter reports on top (kernel docs,
``admin-guide/cgroup-v1`` and ``cgroup-v2``):

- CPU time split into user and kernel: v1 ``cpuacct.usage_user``/``usage_sys``, v2 ``cpu.stat``;
- block I/O bytes and operations: v1 ``blkio.throttle.io_service*_recursive``, v2 ``io.stat``.

A task's cgroup is ``/labkit/<container id>`` (runtime spec, config-linux.md: "Control
groups", ``cgroupsPath``). OOM kills are reported twice, as containerd does: counted
in ``container_memory_oom_total``, and published as a ``/tasks/oom`` event by
:class:`OOMWatcher`. A limit the task does not have is exported as ``+Inf``.
"""

from __future__ import annotations

import math
import os
import select
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import cgroups
from .errors import InvalidArgument, NotFound
from .events import TASK_OOM, Publisher
from .paths import NAMESPACE
from .supervisor import Supervisor

__all__ = [
    "Metrics",
    "BlkioEntry",
    "read",
    "running",
    "TaskCollector",
    "exposition",
    "serve",
    "OOMWatcher",
]


@dataclass(frozen=True)
class BlkioEntry:
    """One line of a blkio file: ``MAJOR:MINOR Op VALUE`` (``8:0 Read 4096``)."""

    op: str
    major: int
    minor: int
    value: int

    @property
    def device(self) -> str:
        """The block device's name (``sda``), from sysfs; empty when the kernel does not say."""
        uevent = Path(f"/sys/dev/block/{self.major}:{self.minor}/uevent")
        lines = uevent.read_text().splitlines() if uevent.exists() else []
        return next((line[8:] for line in lines if line.startswith("DEVNAME=")), "")


@dataclass(frozen=True)
class Metrics:
    """One task's numbers at one moment (containerd's ``metrics/types/v1.Metrics``, flattened).

    ``cgroup`` holds what :mod:`labkit.cgroups` reads for any group (usage, peak, limit,
    limit hits, OOM kills, pids, CPU time); the rest is what a metrics exporter adds on top.
    """

    container_id: str
    cgroup: cgroups.Stats
    cpu_user_ns: int
    cpu_kernel_ns: int
    blkio_bytes: tuple[BlkioEntry, ...]
    blkio_ops: tuple[BlkioEntry, ...]


def _keyed(path: Path) -> dict[str, int]:
    """A flat-keyed file (``name value`` per line), such as ``cpu.stat`` or ``memory.events``."""
    return {key: int(value) for key, value in (line.split() for line in path.read_text().splitlines())}


def _blkio(path: Path) -> tuple[BlkioEntry, ...]:
    """A v1 blkio file; empty when the host has no blkio hierarchy for the group."""
    entries = []
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = line.split()
        if len(parts) == 3:  # skip the closing "Total N"
            major, minor = parts[0].split(":")
            entries.append(BlkioEntry(parts[1], int(major), int(minor), int(parts[2])))
    return tuple(entries)


def _io_stat(path: Path) -> tuple[tuple[BlkioEntry, ...], tuple[BlkioEntry, ...]]:
    """v2 ``io.stat`` (``8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...``) as v1-style Read/Write entries.

    Empty when the ``io`` controller is not enabled for the group."""
    nbytes, ops = [], []
    for line in path.read_text().splitlines() if path.exists() else []:
        device, *pairs = line.split()
        major, minor = map(int, device.split(":"))
        stat = {key: int(value) for key, value in (pair.split("=") for pair in pairs)}
        for op, prefix in (("Read", "r"), ("Write", "w")):
            nbytes.append(BlkioEntry(op, major, minor, stat.get(f"{prefix}bytes", 0)))
            ops.append(BlkioEntry(op, major, minor, stat.get(f"{prefix}ios", 0)))
    return tuple(nbytes), tuple(ops)


def _extras(group: cgroups.Cgroup) -> dict[str, Any]:
    """CPU split and block I/O, from the files of this host's cgroup version."""
    if group.version == 2:
        directory = group.dirs()[0]
        cpu = _keyed(directory / "cpu.stat")
        blkio_bytes, blkio_ops = _io_stat(directory / "io.stat")
        return dict(cpu_user_ns=cpu["user_usec"] * 1000, cpu_kernel_ns=cpu["system_usec"] * 1000,
                    blkio_bytes=blkio_bytes, blkio_ops=blkio_ops)
    cpuacct, blkio = group.file("cpu_usage").parent, group.mount / "blkio" / group.path.relative_to("/")
    return dict(cpu_user_ns=int((cpuacct / "cpuacct.usage_user").read_text()),
                cpu_kernel_ns=int((cpuacct / "cpuacct.usage_sys").read_text()),
                blkio_bytes=_blkio(blkio / "blkio.throttle.io_service_bytes_recursive"),
                blkio_ops=_blkio(blkio / "blkio.throttle.io_serviced_recursive"))


def read(container_id: str) -> Metrics:
    """Read a task's metrics from its cgroup ``labkit/<id>``, now (what ``runc events --stats`` reports)."""
    group = cgroups.Cgroup(container_id)
    try:
        return Metrics(container_id, group.stats(), **_extras(group))
    except (NotFound, FileNotFoundError) as err:  # no cgroup, or the task ended while we read
        raise NotFound(f"no cgroup for task {container_id} (is it running?)") from err


def running(supervisor: Supervisor | None = None) -> list[str]:
    """Ids of the supervisor's tasks that are running or paused (they have a cgroup to read)."""
    ids = []
    for container in (supervisor or Supervisor()).containers():
        try:
            if container.task().status() in ("running", "paused"):
                ids.append(container.id)
        except NotFound:  # no task, or it went while we looked
            continue
    return ids


def _limit(value: int | None) -> float:
    """A limit as Prometheus shows it: no limit is ``+Inf``."""
    return math.inf if value is None else value


#: (name, help, value) of each single-number gauge; names are containerd's (``metrics/cgroups/v1``).
_GAUGES: tuple[tuple[str, str, Callable[[Metrics], float | None]], ...] = (
    ("container_cpu_total_nanoseconds", "The total cpu time", lambda m: m.cgroup.cpu_usage_ns),
    ("container_cpu_user_nanoseconds", "The total user cpu time", lambda m: m.cpu_user_ns),
    ("container_cpu_kernel_nanoseconds", "The total kernel cpu time", lambda m: m.cpu_kernel_ns),
    ("container_memory_usage_usage_bytes", "The memory usage", lambda m: m.cgroup.memory_usage),
    ("container_memory_usage_max_bytes", "The memory maximum usage", lambda m: m.cgroup.memory_peak),
    ("container_memory_usage_limit_bytes", "The memory limit", lambda m: _limit(m.cgroup.memory_limit)),
    ("container_memory_usage_failcnt_total", "The usage failcnt", lambda m: m.cgroup.memory_limit_hits),
    ("container_pids_current", "The current number of pids", lambda m: m.cgroup.pids_current),
    ("container_pids_limit", "The limit to the number of pids allowed", lambda m: _limit(m.cgroup.pids_limit)),
)
_BLKIO = (
    ("container_blkio_io_service_bytes_recursive_bytes", "The blkio io service bytes recursive", "blkio_bytes"),
    ("container_blkio_io_serviced_recursive_total", "The blkio io serviced recursive", "blkio_ops"),
)
_LABELS = ["container_id", "namespace"]
Tasks = Callable[[], Iterable[str]]


class TaskCollector:
    """A ``prometheus_client`` custom collector: each scrape reads every listed task's cgroup.

    ``tasks`` lists the container ids to report (default: :func:`running`).
    """

    def __init__(self, tasks: Tasks = running) -> None:
        self._tasks = tasks

    def _snapshot(self) -> list[Metrics]:
        found = []
        for container_id in self._tasks():
            try:
                found.append(read(container_id))
            except NotFound:  # ended between listing and reading: not running any more
                continue
        return found

    def collect(self) -> Iterator[Metric]:
        """Yield one family per metric name, one sample per task (the collector protocol)."""
        snapshot = self._snapshot()
        for name, help_text, value in _GAUGES:
            family = GaugeMetricFamily(name, help_text, labels=_LABELS)
            for m in snapshot:
                if (number := value(m)) is not None:  # a peak the kernel does not keep is left out
                    family.add_metric([m.container_id, NAMESPACE], number)
            yield family
        oom = CounterMetricFamily("container_memory_oom", "The number of times a container has received an oom event",
                                  labels=_LABELS)
        for m in snapshot:
            oom.add_metric([m.container_id, NAMESPACE], m.cgroup.oom_kills)
        yield oom
        for name, help_text, attribute in _BLKIO:
            family = GaugeMetricFamily(name, help_text, labels=[*_LABELS, "op", "device", "major", "minor"])
            for m in snapshot:
                for e in getattr(m, attribute):
                    family.add_metric([m.container_id, NAMESPACE, e.op, e.device, str(e.major), str(e.minor)], e.value)
            yield family


def _registry(tasks: Tasks) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TaskCollector(tasks))
    return registry


def exposition(tasks: Tasks = running) -> str:
    """The text Prometheus would scrape right now (text exposition format 0.0.4)."""
    return generate_latest(_registry(tasks)).decode()


def serve(address: str = "127.0.0.1:0", tasks: Tasks = running) -> tuple[str, Callable[[], None]]:
    """Serve ``/metrics`` over HTTP on a loopback ``HOST:PORT`` in a background thread.

    Port 0 picks a free one. Returns the address really bound and a function that
    stops the server. Only loopback is allowed: the lab exposes nothing to the network.
    """
    host, _, port = address.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]") or not port.isdigit():
        raise InvalidArgument(f"metrics are served on a loopback HOST:PORT only, not {address!r}")
    server, thread = start_http_server(int(port), addr=host.strip("[]"), registry=_registry(tasks))

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return f"{host}:{server.server_port}", stop


class OOMWatcher:
    """Publishes ``/tasks/oom {container_id}`` each time the kernel OOM-kills in a watched task.

    containerd's ``oomCollector`` (``metrics/cgroups/v1/oom.go``) does this with epoll:
    on v1 an *eventfd* registered through ``cgroup.event_control`` against
    ``memory.oom_control`` (cgroup-v1/memory.rst, "OOM Control"); on v2 a poll on
    ``memory.events``, which the kernel marks changed. One thread waits on all of them,
    and a watch ends with its cgroup. ``publish`` is ``Supervisor.publish`` or
    ``Exchange.publish``.
    """

    def __init__(self, publish: Publisher) -> None:
        self._publish = publish
        self._v2 = cgroups.version() == 2
        self._epoll = select.epoll()
        self._watches: dict[int, tuple[str, int]] = {}  # fd -> (container id, OOM kills seen)
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self._epoll.register(self._stop_r, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="labkit-oom", daemon=True)
        self._thread.start()

    def add(self, container_id: str) -> None:
        """Start watching a task's cgroup (it must exist: after ``new_task``, before ``start``)."""
        seen = read(container_id).cgroup.oom_kills
        oom_file = cgroups.Cgroup(container_id).file("oom_kills")  # v1 memory.oom_control, v2 memory.events
        if self._v2:
            fd, mask = os.open(oom_file, os.O_RDONLY), select.EPOLLPRI
        else:
            fd, mask = os.eventfd(0, os.EFD_CLOEXEC), select.EPOLLIN
            control = os.open(oom_file, os.O_RDONLY)
            try:
                (oom_file.parent / "cgroup.event_control").write_text(f"{fd} {control}")
            finally:
                os.close(control)
        with self._lock:
            self._watches[fd] = (container_id, seen)
        self._epoll.register(fd, mask)

    def _fired(self, fd: int) -> None:
        if not self._v2:
            os.eventfd_read(fd)  # drain it, or epoll reports it again
        with self._lock:
            container_id, seen = self._watches[fd]
        try:
            kills = read(container_id).cgroup.oom_kills
        except NotFound:  # the cgroup was removed: the kernel signals that too
            self._epoll.unregister(fd)
            os.close(fd)
            with self._lock:
                del self._watches[fd]
            return
        with self._lock:
            self._watches[fd] = (container_id, kills)
        # v1 signals once per OOM, before the kill is counted; v2 signals every change of
        # memory.events, the kill included, so there only a higher count means an OOM kill.
        if not self._v2 or kills > seen:
            self._publish(TASK_OOM, {"container_id": container_id})

    def _run(self) -> None:
        while True:
            for fd, _ in self._epoll.poll():
                if fd == self._stop_r:
                    return
                self._fired(fd)

    def close(self) -> None:
        """Stop watching everything and end the thread."""
        os.write(self._stop_w, b"x")
        self._thread.join()
        for fd in [*self._watches, self._stop_r, self._stop_w]:
            os.close(fd)
        self._epoll.close()
