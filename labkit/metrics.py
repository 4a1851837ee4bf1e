"""Task metrics from cgroups, exported for Prometheus the way containerd does.

containerd's ``cgroups`` metrics plugin (``metrics/cgroups``) reads each task's
cgroup and exports it through ``prometheus/client_golang`` under the namespace
``container``: one metric per number, labelled ``container_id`` and ``namespace``
(``container_memory_usage_usage_bytes{container_id="web",namespace="default"}``).
labkit does the same with ``prometheus_client``'s custom-collector API: nothing is
stored, every scrape reads the kernel's files afresh.

Where the numbers come from (kernel docs, ``admin-guide/cgroup-v1`` and ``cgroup-v2``):

=========================  ====================================  ==============================
metric                     cgroup v1 (this lab's hosts)          cgroup v2
=========================  ====================================  ==============================
CPU time (ns)              ``cpuacct.usage``, ``usage_user/sys`` ``cpu.stat`` (µs)
memory usage / max         ``memory.usage_in_bytes``, ``max_…``   ``memory.current``, ``.peak``
memory limit               ``memory.limit_in_bytes``             ``memory.max``
limit hits (failcnt)       ``memory.failcnt``                    ``memory.events`` ``max``
OOM kills                  ``memory.oom_control`` ``oom_kill``   ``memory.events`` ``oom_kill``
pids                       ``pids.current``, ``pids.max``        the same
block I/O                  ``blkio.throttle.io_service*_recursive``  ``io.stat``
=========================  ====================================  ==============================

A task's cgroup is ``/labkit/<container id>`` in every hierarchy (runtime spec,
config-linux.md: "Control groups", ``cgroupsPath``). OOM kills are reported twice, as
containerd does: counted in ``container_memory_oom_total``, and published as a
``/tasks/oom`` event by :class:`OOMWatcher`.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .errors import InvalidArgument, NotFound
from .paths import CGROUP_PARENT, NAMESPACE

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

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: the v2 (unified) tree announces itself with this file at its root.
_IS_V2 = (CGROUP_ROOT / "cgroup.controllers").exists()


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
    """One task's numbers at one moment (containerd's ``metrics/types/v1.Metrics``, flattened)."""

    container_id: str
    cpu_total_ns: int
    cpu_user_ns: int
    cpu_kernel_ns: int
    memory_usage: int
    memory_max_usage: int
    memory_limit: int  #: a huge number (the page-rounded int64 max on v1) means "no limit"
    memory_failcnt: int  #: how often usage hit the limit
    memory_oom_kills: int
    pids_current: int
    pids_limit: int  #: 0 means "no limit", as runc reports it
    blkio_bytes: tuple[BlkioEntry, ...] = field(default=())
    blkio_ops: tuple[BlkioEntry, ...] = field(default=())


def _group(controller: str, container_id: str) -> Path:
    """The task's cgroup directory for one controller (v1) or in the unified tree (v2)."""
    if _IS_V2:
        return CGROUP_ROOT / CGROUP_PARENT / container_id
    return CGROUP_ROOT / controller / CGROUP_PARENT / container_id


def _int(path: Path) -> int:
    text = path.read_text().strip()
    return 0 if text == "max" else int(text)


def _keyed(path: Path) -> dict[str, int]:
    """A flat-keyed file (``name value`` per line), such as ``memory.oom_control`` or ``cpu.stat``."""
    return {key: int(value) for key, value in (line.split() for line in path.read_text().splitlines())}


def _blkio(path: Path) -> tuple[BlkioEntry, ...]:
    entries = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:  # skip the closing "Total N"
            major, minor = parts[0].split(":")
            entries.append(BlkioEntry(parts[1], int(major), int(minor), int(parts[2])))
    return tuple(entries)


def _io_stat_v2(path: Path) -> tuple[tuple[BlkioEntry, ...], tuple[BlkioEntry, ...]]:
    """``io.stat`` (``8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...``) as v1-style Read/Write entries."""
    nbytes, ops = [], []
    for line in path.read_text().splitlines():
        device, *pairs = line.split()
        major, minor = map(int, device.split(":"))
        stat = {key: int(value) for key, value in (pair.split("=") for pair in pairs)}
        for op, prefix in (("Read", "r"), ("Write", "w")):
            nbytes.append(BlkioEntry(op, major, minor, stat.get(f"{prefix}bytes", 0)))
            ops.append(BlkioEntry(op, major, minor, stat.get(f"{prefix}ios", 0)))
    return tuple(nbytes), tuple(ops)


def _read_v1(container_id: str) -> Metrics:
    cpu, memory = _group("cpuacct", container_id), _group("memory", container_id)
    pids, blkio = _group("pids", container_id), _group("blkio", container_id)
    return Metrics(
        container_id,
        cpu_total_ns=_int(cpu / "cpuacct.usage"),
        cpu_user_ns=_int(cpu / "cpuacct.usage_user"),
        cpu_kernel_ns=_int(cpu / "cpuacct.usage_sys"),
        memory_usage=_int(memory / "memory.usage_in_bytes"),
        memory_max_usage=_int(memory / "memory.max_usage_in_bytes"),
        memory_limit=_int(memory / "memory.limit_in_bytes"),
        memory_failcnt=_int(memory / "memory.failcnt"),
        memory_oom_kills=_keyed(memory / "memory.oom_control").get("oom_kill", 0),
        pids_current=_int(pids / "pids.current"),
        pids_limit=_int(pids / "pids.max"),
        blkio_bytes=_blkio(blkio / "blkio.throttle.io_service_bytes_recursive"),
        blkio_ops=_blkio(blkio / "blkio.throttle.io_serviced_recursive"),
    )


def _read_v2(container_id: str) -> Metrics:
    group = _group("", container_id)
    cpu, events = _keyed(group / "cpu.stat"), _keyed(group / "memory.events")
    peak = group / "memory.peak"
    blkio_bytes, blkio_ops = _io_stat_v2(group / "io.stat")
    return Metrics(
        container_id,
        cpu_total_ns=cpu["usage_usec"] * 1000,
        cpu_user_ns=cpu["user_usec"] * 1000,
        cpu_kernel_ns=cpu["system_usec"] * 1000,
        memory_usage=_int(group / "memory.current"),
        memory_max_usage=_int(peak) if peak.exists() else 0,
        memory_limit=_int(group / "memory.max"),
        memory_failcnt=events["max"],
        memory_oom_kills=events["oom_kill"],
        pids_current=_int(group / "pids.current"),
        pids_limit=_int(group / "pids.max"),
        blkio_bytes=blkio_bytes,
        blkio_ops=blkio_ops,
    )


def read(container_id: str) -> Metrics:
    """Read a task's metrics from its cgroup, now (what ``runc events --stats`` reports)."""
    if not _group("memory", container_id).is_dir():
        raise NotFound(f"no cgroup for task {container_id} (is it running?)")
    try:
        return _read_v2(container_id) if _IS_V2 else _read_v1(container_id)
    except FileNotFoundError as err:  # the task ended (its cgroup went) while we read
        raise NotFound(f"task {container_id} went away while its metrics were read") from err


def running() -> list[str]:
    """Ids of the lab's tasks that have processes now: non-empty cgroups under ``labkit/``."""
    parent = _group("memory", "")
    if not parent.is_dir():
        return []
    return sorted(g.name for g in parent.iterdir() if g.is_dir() and (g / "cgroup.procs").read_text().strip())


#: (name, help, value) of each single-number gauge; names are containerd's (``metrics/cgroups/v1``).
_GAUGES: tuple[tuple[str, str, Callable[[Metrics], int]], ...] = (
    ("container_cpu_total_nanoseconds", "The total cpu time", lambda m: m.cpu_total_ns),
    ("container_cpu_user_nanoseconds", "The total user cpu time", lambda m: m.cpu_user_ns),
    ("container_cpu_kernel_nanoseconds", "The total kernel cpu time", lambda m: m.cpu_kernel_ns),
    ("container_memory_usage_usage_bytes", "The memory usage", lambda m: m.memory_usage),
    ("container_memory_usage_max_bytes", "The memory maximum usage", lambda m: m.memory_max_usage),
    ("container_memory_usage_limit_bytes", "The memory limit", lambda m: m.memory_limit),
    ("container_memory_usage_failcnt_total", "The usage failcnt", lambda m: m.memory_failcnt),
    ("container_pids_current", "The current number of pids", lambda m: m.pids_current),
    ("container_pids_limit", "The limit to the number of pids allowed", lambda m: m.pids_limit),
)
_BLKIO = (
    ("container_blkio_io_service_bytes_recursive_bytes", "The blkio io service bytes recursive", "blkio_bytes"),
    ("container_blkio_io_serviced_recursive_total", "The blkio io serviced recursive", "blkio_ops"),
)
_LABELS = ["container_id", "namespace"]


class TaskCollector:
    """A ``prometheus_client`` custom collector: each scrape reads every running task's cgroup.

    ``tasks`` lists the container ids to report (default: :func:`running`).
    """

    def __init__(self, tasks: Callable[[], Iterable[str]] = running) -> None:
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
                family.add_metric([m.container_id, NAMESPACE], value(m))
            yield family
        oom = CounterMetricFamily("container_memory_oom", "The number of times a container has received an oom event", labels=_LABELS)
        for m in snapshot:
            oom.add_metric([m.container_id, NAMESPACE], m.memory_oom_kills)
        yield oom
        for name, help_text, attribute in _BLKIO:
            family = GaugeMetricFamily(name, help_text, labels=[*_LABELS, "op", "device", "major", "minor"])
            for m in snapshot:
                for e in getattr(m, attribute):
                    family.add_metric([m.container_id, NAMESPACE, e.op, e.device, str(e.major), str(e.minor)], e.value)
            yield family


def _registry(tasks: Callable[[], Iterable[str]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TaskCollector(tasks))
    return registry


def exposition(tasks: Callable[[], Iterable[str]] = running) -> str:
    """The text Prometheus would scrape right now (exposition format 0.0.4)."""
    return generate_latest(_registry(tasks)).decode()


def serve(address: str = "127.0.0.1:0", tasks: Callable[[], Iterable[str]] = running) -> tuple[str, Callable[[], None]]:
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
    """Calls ``on_oom(container_id)`` each time the kernel OOM-kills in a watched task's cgroup.

    containerd's ``oomCollector`` does the same with epoll: on v1 an *eventfd*
    registered through ``cgroup.event_control`` against ``memory.oom_control``
    (cgroup-v1/memory.rst, "OOM Control"); on v2 a poll on ``memory.events``, which the
    kernel marks changed. One thread waits on all of them; a watch ends with its cgroup.
    The supervisor passes ``on_oom`` that publishes ``/tasks/oom {container_id}``.
    """

    def __init__(self, on_oom: Callable[[str], None]) -> None:
        self._on_oom = on_oom
        self._epoll = select.epoll()
        self._watches: dict[int, tuple[str, int]] = {}  # fd -> (container id, OOM kills seen)
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self._epoll.register(self._stop_r, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="labkit-oom", daemon=True)
        self._thread.start()

    def add(self, container_id: str) -> None:
        """Start watching a task's cgroup (it must exist)."""
        seen = read(container_id).memory_oom_kills
        memory = _group("memory", container_id)
        if _IS_V2:
            fd, mask = os.open(memory / "memory.events", os.O_RDONLY), select.EPOLLPRI
        else:
            fd, mask = os.eventfd(0, os.EFD_CLOEXEC), select.EPOLLIN
            control = os.open(memory / "memory.oom_control", os.O_RDONLY)
            try:
                (memory / "cgroup.event_control").write_text(f"{fd} {control}")
            finally:
                os.close(control)
        with self._lock:
            self._watches[fd] = (container_id, seen)
        self._epoll.register(fd, mask)

    def _fired(self, fd: int) -> None:
        if not _IS_V2:
            os.eventfd_read(fd)  # drain it, or epoll reports it again
        with self._lock:
            container_id, seen = self._watches[fd]
        try:
            kills = read(container_id).memory_oom_kills
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
        if not _IS_V2 or kills > seen:
            self._on_oom(container_id)

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
        for fd in list(self._watches):
            os.close(fd)
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)
        self._epoll.close()
