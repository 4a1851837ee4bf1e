"""One cgroup of the lab's: make it, move processes in, set its limits, read its files, remove it."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from ._tree import MOUNT, parent, prepare, version

__all__ = ["FILES", "Stats", "Cgroup", "create"]

#: the v1 hierarchies labkit uses; a group exists when its ``memory`` directory does
_V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
#: CFS period for CPU limits, in microseconds (the kernel's default, 100 ms)
_CPU_PERIOD = 100_000

#: each number a group keeps: its file as (v1 hierarchy, v1 file) and the v2 file. Keyed files
#: (``memory.events``, ``pids.events``, ...) hold several numbers, one ``key value`` per line.
FILES = {
    "memory_limit": (("memory", "memory.limit_in_bytes"), "memory.max"),
    "memory_usage": (("memory", "memory.usage_in_bytes"), "memory.current"),
    "memory_peak": (("memory", "memory.max_usage_in_bytes"), "memory.peak"),
    "memory_limit_hits": (("memory", "memory.failcnt"), "memory.events"),       # v2: key "max"
    "oom_kills": (("memory", "memory.oom_control"), "memory.events"),           # key "oom_kill"
    "pids_limit": (("pids", "pids.max"), "pids.max"),
    "pids_current": (("pids", "pids.current"), "pids.current"),
    "pids_refused": (("pids", "pids.events"), "pids.events"),                   # key "max"
    "cpu_usage": (("cpuacct", "cpuacct.usage"), "cpu.stat"),                    # v2: key "usage_usec"
    "frozen": (("freezer", "freezer.state"), "cgroup.events"),                  # v2: key "frozen"
}


def _number(text: str) -> int | None:
    """A cgroup number; ``max`` (v2, pids) and v1's huge "unlimited" values mean no limit."""
    text = text.strip()
    return None if text == "max" or int(text) >= 2**62 else int(text)


def _keyed(text: str) -> dict[str, int]:
    """A flat keyed file (``memory.events``, ``pids.events``, ``memory.oom_control``): ``key value`` lines."""
    return {key: int(value) for key, value in (line.split() for line in text.splitlines())}


@dataclass(frozen=True)
class Stats:
    """A cgroup's usage and events, the same fields on v1 and v2 (bytes, counts, nanoseconds)."""

    memory_usage: int
    memory_peak: int | None  #: None where the kernel keeps no peak (v2 before Linux 5.19)
    memory_limit: int | None
    memory_limit_hits: int   #: how often usage reached the limit (v1 ``memory.failcnt``, v2 ``memory.events`` max)
    oom_kills: int           #: processes the OOM killer killed in this group
    pids_current: int
    pids_limit: int | None
    pids_refused: int        #: forks refused because of pids_limit
    cpu_usage_ns: int


class Cgroup:
    """The cgroup ``labkit/<name>``, in every hierarchy labkit uses (v1) or in the unified tree (v2).

    ``path`` is where it is in the cgroup tree — what a runtime spec's ``linux.cgroupsPath``
    names: ``/labkit/<name>`` as root, under the delegated subtree otherwise (:func:`parent`).
    """

    def __init__(self, name: str, mount: Path = MOUNT) -> None:
        if not name or "/" in name or name in (".", ".."):
            raise InvalidArgument(f"invalid cgroup name {name!r}: one path component, please")
        self.name = name
        self.mount = mount
        self.version = version(mount)
        self.path = parent(mount) / name

    def __repr__(self) -> str:
        return f"Cgroup({self.name!r}, v{self.version})"

    def _in(self, hierarchy: str = "") -> Path:
        """Its directory in one v1 hierarchy, or (``""``) in the v2 tree."""
        return self.mount / hierarchy / self.path.relative_to("/")

    def dirs(self) -> list[Path]:
        """Its directories: one per v1 hierarchy, or the single v2 one."""
        if self.version == 2:
            return [self._in()]
        return [self._in(controller) for controller in _V1_CONTROLLERS]

    def file(self, quantity: str) -> Path:
        """The kernel file that holds ``quantity`` (a key of :data:`FILES`) for this group, on this host."""
        (controller, v1_name), v2_name = FILES[quantity]
        return self._in() / v2_name if self.version == 2 else self._in(controller) / v1_name

    def exists(self) -> bool:
        """Whether the group is there (v1: its directory in the memory hierarchy)."""
        return self.dirs()[0].is_dir()

    def create(self) -> Cgroup:
        """mkdir the group, once its parent is ready (:func:`prepare`)."""
        prepare(self.mount)
        try:
            for directory in self.dirs():
                directory.mkdir(parents=True, exist_ok=True)
        except PermissionError:
            raise PermissionDenied(f"cannot create cgroup {self.path}: needs root, or a delegated subtree") from None
        return self

    def controllers(self) -> list[str]:
        """v2: the controllers this group may use (its ``cgroup.controllers``, what its parent enabled)."""
        return (self.dirs()[0] / "cgroup.controllers").read_text().split()

    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the group; its future children are born there."""
        for directory in self.dirs():
            (directory / "cgroup.procs").write_text(str(pid))

    def procs(self) -> list[int]:
        """The processes in the group now."""
        return sorted(int(p) for p in (self.dirs()[0] / "cgroup.procs").read_text().split())

    def limit(self, *, memory: int | None = None, pids: int | None = None, cpus: float | None = None) -> None:
        """Set limits: ``memory`` bytes, ``pids`` processes (threads count), ``cpus`` CPUs' worth of time.

        Past ``memory`` the kernel reclaims what it can (page cache; never swap, which is
        limited too) and then OOM-kills a process of the group. ``cpus`` is a CFS quota per period:
        0.5 is 50 ms of CPU time in every 100 ms (config-linux.md: CPU, ``quota``/``period``).
        """
        for controller, wanted in (("memory", memory), ("pids", pids), ("cpu", cpus)):
            if wanted is not None and self.version == 2 and controller not in self.controllers():
                raise FailedPrecondition(f"cgroup {self.path} has no {controller} controller: it was not "
                                         "delegated to this user (systemd: Delegate=yes, or Delegate=cpu ...)")
        if memory is not None:
            self._limit_memory(memory)
        if pids is not None:
            self.file("pids_limit").write_text(str(pids))
        if cpus is not None:
            quota = int(cpus * _CPU_PERIOD)
            if self.version == 2:
                (self.dirs()[0] / "cpu.max").write_text(f"{quota} {_CPU_PERIOD}")
            else:
                cpu = self._in("cpu")
                (cpu / "cpu.cfs_period_us").write_text(str(_CPU_PERIOD))
                (cpu / "cpu.cfs_quota_us").write_text(str(quota))

    def _limit_memory(self, limit: int) -> None:
        """The memory limit, and no swapping past it (``docker run --memory X --memory-swap X``).

        v2 limits swap on its own (``memory.swap.max``); v1 limits memory and swap together
        (``memory.memsw.limit_in_bytes``, never below the memory limit: hence the order).
        The swap files exist only where the kernel accounts for swap.
        """
        directory = self.dirs()[0]
        if self.version == 2:
            (directory / "memory.max").write_text(str(limit))
            if (directory / "memory.swap.max").exists():
                (directory / "memory.swap.max").write_text("0")
            return
        memsw = directory / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            memsw.write_text("-1")
        (directory / "memory.limit_in_bytes").write_text(str(limit))
        if memsw.exists():
            memsw.write_text(str(limit))

    def stats(self) -> Stats:
        """Usage and events now, from the files of :data:`FILES` (v1 or v2, whichever the host has)."""
        if not self.exists():
            raise NotFound(f"no cgroup {self.path}")
        read = lambda quantity: self.file(quantity).read_text()  # noqa: E731
        if self.version == 2:
            events = _keyed(read("oom_kills"))  # memory.events
            limit_hits, oom_kills = events["max"], events["oom_kill"]
            cpu_ns = _keyed(read("cpu_usage"))["usage_usec"] * 1000
        else:
            limit_hits, oom_kills = int(read("memory_limit_hits")), _keyed(read("oom_kills"))["oom_kill"]
            cpu_ns = int(read("cpu_usage"))
        peak = self.file("memory_peak")
        return Stats(
            memory_usage=int(read("memory_usage")),
            memory_peak=int(peak.read_text()) if peak.exists() else None,
            memory_limit=_number(read("memory_limit")),
            memory_limit_hits=limit_hits,
            oom_kills=oom_kills,
            pids_current=int(read("pids_current")),
            pids_limit=_number(read("pids_limit")),
            pids_refused=_keyed(read("pids_refused"))["max"],
            cpu_usage_ns=cpu_ns,
        )

    def frozen(self) -> bool:
        """Is the group frozen (paused)? v1 ``freezer.state`` says ``FROZEN``; v2 ``cgroup.events`` ``frozen 1``."""
        text = self.file("frozen").read_text()
        return _keyed(text)["frozen"] == 1 if self.version == 2 else text.strip() == "FROZEN"

    def kill(self) -> None:
        """SIGKILL every process in the group, again until none is left (a fork may race the first round)."""
        for _ in range(100):
            pids = self.procs() if self.exists() else []
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        raise FailedPrecondition(f"cgroup {self.name} still has processes after SIGKILL")

    def remove(self) -> None:
        """Kill what is left inside, then rmdir the group everywhere (deleting is rmdir, not rm -r)."""
        self.kill()
        for directory in self.dirs():
            for _ in range(100):  # a killed process leaves its group a moment after it dies
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
            else:
                raise FailedPrecondition(f"cannot remove cgroup {directory}: still busy")

    def __enter__(self) -> Cgroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def create(name: str, *, memory: int | None = None, pids: int | None = None, cpus: float | None = None,
           mount: Path = MOUNT) -> Cgroup:
    """Create ``labkit/<name>`` with the given limits; use it as a context manager to remove it after."""
    group = Cgroup(name, mount).create()
    group.limit(memory=memory, pids=pids, cpus=cpus)
    return group
