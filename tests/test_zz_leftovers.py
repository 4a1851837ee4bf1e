"""After the whole suite: nothing the lab made is left on the machine (tests/conftest.py runs this file last).

Every test cleans up after itself; this checks that they all did. What the lab makes
outside a lab root carries the names in ``labkit.paths``, so a leftover is easy to
name: a cgroup under ``labkit/``, a mount under a lab root, a network namespace
``labkit-*``, a veth ``lk*``, a shim still waiting, a container in the default root.
Run on its own, it reports what other runs on the machine still have.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labkit import cgroups
from labkit.paths import CGROUP_PARENT, NETNS_PREFIX, VETH_PREFIX, default_root


def _command_lines() -> dict[int, str]:
    lines = {}
    for proc in Path("/proc").iterdir():
        try:
            lines[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (ValueError, OSError):
            continue
    return lines


def test_no_cgroups_left_under_the_labs_parent() -> None:
    parents = [*cgroups.MOUNT.glob(f"*/{CGROUP_PARENT}"), cgroups.MOUNT / CGROUP_PARENT]  # v1 hierarchies, v2 tree
    left = [str(group) for parent in parents if parent.is_dir() for group in parent.iterdir() if group.is_dir()]
    assert left == []


def test_no_mounts_left_in_a_lab_root(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Test lab roots are under pytest's temporary directories (``pytest-of-USER/``), the default root elsewhere."""
    roots = (str(tmp_path_factory.getbasetemp().parent) + "/", str(default_root()) + "/")
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    assert [point for point in points if point.startswith(roots)] == []


def test_no_network_namespaces_or_veths_left() -> None:
    netns = Path("/run/netns")
    assert (sorted(ns.name for ns in netns.glob(f"{NETNS_PREFIX}*")) if netns.is_dir() else []) == []
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines()
    names = [line.split(":")[1].strip().split("@")[0] for line in links if ":" in line]
    assert [name for name in names if name.startswith(VETH_PREFIX)] == []


def test_no_shims_or_containers_left() -> None:
    processes = _command_lines()
    shims = [line for line in processes.values() if "labkit.shim" in line or "containerd-shim" in line]
    assert shims == []
    containers = default_root() / "containers"
    assert not containers.is_dir() or sorted(p.name for p in containers.iterdir()) == []
