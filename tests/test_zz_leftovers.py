"""After the whole suite: nothing this run made is left on the machine (tests/conftest.py runs this file last).

Every test cleans up after itself; this checks that they all did — for this run only, so that
it holds on a machine other runs share (tests/ledger.py says how a run knows what it made).
What the lab makes outside a lab root carries the names in ``labkit.paths``: a cgroup under
``labkit/``, a mount under a lab root, a network namespace ``labkit-*``, a veth ``lk*``, a shim
still waiting, a container record.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ledger import LEDGER

from labkit.paths import default_root


@pytest.fixture
def basetemp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temporary directory: every lab root a test made is below it."""
    return tmp_path_factory.getbasetemp()


def _command_lines() -> dict[int, str]:
    lines = {}
    for proc in Path("/proc").iterdir():
        try:
            lines[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (ValueError, OSError):
            continue
    return lines


def test_no_cgroups_left_under_the_labs_parent(basetemp: Path) -> None:
    assert LEDGER.left(basetemp)["cgroup"] == set()


def test_no_mounts_left_in_a_lab_root(basetemp: Path) -> None:
    """This run's lab roots are under its temporary directory; what it did in the default root, under that root."""
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    ours = LEDGER.ours(basetemp)
    in_default = [str(default_root() / "containers" / name) + "/" for name in ours]
    assert [p for p in points if p.startswith(str(basetemp) + "/") or p.startswith(tuple(in_default))] == []


def test_no_network_namespaces_or_veths_left(basetemp: Path) -> None:
    left = LEDGER.left(basetemp)
    assert (left["netns"], left["veth"]) == (set(), set())


def test_no_shims_or_containers_left(basetemp: Path) -> None:
    ours = LEDGER.ours(basetemp)
    shims = [line for line in _command_lines().values()
             if ("labkit.shim" in line or "containerd-shim" in line)
             and (str(basetemp) in line or any(f'"{name}"' in line for name in ours))]
    assert shims == []
    containers = default_root() / "containers"
    assert [name for name in ours if (containers / name).is_dir()] == []
