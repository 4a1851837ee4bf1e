"""labkit.cgroups on the real kernel: an OOM kill it reports, a pids limit that stops forks, clean removal."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from labkit import cgroups, ns
from labkit.errors import InvalidArgument, NotFound

pytestmark = pytest.mark.root


@pytest.fixture
def name() -> Iterator[str]:
    """A unique group name; the test must have removed the group by its end."""
    name = f"test-{secrets.token_hex(4)}"
    yield name
    assert name not in cgroups.groups(), "the test left its cgroup behind"


def allocate_mib(count: int) -> None:
    """Touch ``count`` MiB, one at a time, saying how far it got."""
    chunks = []
    for mib in range(1, count + 1):
        chunks.append(b"\1" * (1 << 20))
        print(f"{mib} MiB", flush=True)


def start_sleepers(count: int) -> str:
    """Start up to ``count`` sleeping processes; say where the kernel stopped us."""
    for started in range(count):
        try:
            subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except BlockingIOError as err:
            return f"started {started}, then: {err.strerror}"
    return f"started {count}"


def test_the_version_matches_the_mount() -> None:
    expected = 2 if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else 1
    assert cgroups.version() == expected


def test_the_layout_says_where_the_controllers_are() -> None:
    if cgroups.version() == 2:
        assert cgroups.layout() == "v2"
    else:
        assert cgroups.layout() == ("hybrid" if os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers") else "v1")


def test_a_name_is_one_path_component() -> None:
    for bad in ("", "a/b", ".."):
        with pytest.raises(InvalidArgument):
            cgroups.Cgroup(bad)


def test_a_memory_limit_ends_in_an_oom_kill_that_is_reported(name: str) -> None:
    with cgroups.create(name, memory=32 << 20) as group:
        assert name in cgroups.groups()
        child = ns.spawn(lambda: allocate_mib(256), setup=group.add, capture=True)
        with child:
            output = child.output()
            assert child.wait() == 137  # SIGKILL, from the OOM killer
        stats = group.stats()
        assert "16 MiB" in output and "64 MiB" not in output
        assert stats.oom_kills == 1
        assert stats.memory_limit == 32 << 20
        assert stats.memory_peak is None or stats.memory_peak <= 32 << 20
        assert group.file("memory_limit").read_text().strip() == str(32 << 20)
        if group.version == 2:  # the kernel's own files: v2 memory.max and memory.events ...
            assert group.file("memory_limit").name == "memory.max"
            assert "oom_kill 1" in group.file("oom_kills").read_text().splitlines()
            swap = group.dirs()[0] / "memory.swap.max"
        else:  # ... v1 memory.limit_in_bytes and memory.oom_control
            assert group.file("memory_limit").name == "memory.limit_in_bytes"
            assert "oom_kill 1" in group.file("oom_kills").read_text().splitlines()
            swap = group.dirs()[0] / "memory.memsw.limit_in_bytes"
        if swap.exists():  # no swapping past the limit, where the kernel accounts swap
            assert swap.read_text().strip() in ("0", str(32 << 20))
    with pytest.raises(NotFound):
        group.stats()


def test_a_pids_limit_stops_extra_forks(name: str) -> None:
    with cgroups.create(name, pids=8) as group:
        # In a PID namespace of its own, the caller is PID 1: when it returns, the kernel kills and
        # reaps its sleepers, so none is left as an orphan (or a zombie of a subreaping test runner).
        said = ns.run(lambda: start_sleepers(50), setup=group.add, flags=ns.CLONE_NEWPID)
        stats = group.stats()
        assert said == "started 7, then: Resource temporarily unavailable"  # the 8th is the caller
        assert stats.pids_limit == 8 and stats.pids_refused >= 1
        assert stats.pids_current == 0 and group.procs() == []
    assert not any(d.exists() for d in group.dirs())


def test_a_cpu_limit_is_a_quota_per_period(name: str) -> None:
    with cgroups.create(name, cpus=0.5) as group:
        if group.version == 2:
            assert (group.dirs()[0] / "cpu.max").read_text().split() == ["50000", "100000"]
        else:
            assert (group.mount / "cpu/labkit" / name / "cpu.cfs_quota_us").read_text().strip() == "50000"
        ns.run(lambda: sum(range(100_000)), setup=group.add)
        assert group.stats().cpu_usage_ns > 0
