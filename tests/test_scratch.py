"""labkit.scratch: busybox commands in a container made from the primitives alone, on the lab's image."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import labkit
from labkit import cgroups, scratch
from labkit.snapshots import apply_layers

pytestmark = [pytest.mark.root, pytest.mark.registry]


@pytest.fixture
def rootfs(lab_root: Path, registry: str) -> Path:
    """The lab's busybox image, unpacked into a plain directory."""
    image = labkit.pull(f"{registry}/lab/busybox:latest", plain_http=True)
    target = lab_root / "rootfs"
    apply_layers(image, target)
    return target


@pytest.fixture(autouse=True)
def leaves_nothing_behind(lab_root: Path) -> Iterator[None]:
    """No mount under the lab root, no ``scratch-*`` cgroup (other tests may run alongside)."""
    def scratch_groups() -> set[str]:
        return {group for group in cgroups.groups() if group.startswith("scratch-")}

    before = scratch_groups()
    yield
    assert str(lab_root) not in Path("/proc/self/mountinfo").read_text()
    assert scratch_groups() <= before


@pytest.mark.parametrize(("args", "status", "output"), [
    (["true"], 0, ""),
    (["sh", "-c", "echo out; echo err >&2; exit 3"], 3, "out\nerr\n"),
    (["cat", "/nope"], 1, "cat: can't open '/nope': No such file or directory\n"),
    (["no-such-program"], 1, None),
])
def test_busybox_commands_end_with_their_exit_status_and_output(rootfs: Path, args: list[str],
                                                                status: int, output: str | None) -> None:
    result = scratch.run(rootfs, args)
    assert result.exit_status == status
    if output is not None:
        assert result.output == output


def test_the_container_has_its_own_hostname_pids_root_and_network(rootfs: Path) -> None:
    result = scratch.run(rootfs, ["sh", "-c", "hostname; echo $$; ls /proc | grep -c '^[0-9]'; ls /; ip -o link | cut -d: -f2"],
                         hostname="box")
    hostname, pid, processes, *rest = result.output.split("\n")
    assert (hostname, pid, processes) == ("box", "1", "3")  # sh, ls and grep
    assert "bin" in rest and "work" not in rest
    assert rest[-2:] == [" lo", ""]  # a new network namespace has a loopback interface, nothing else
    assert result.exit_status == 0


def test_the_devices_of_the_runtime_spec_are_there(rootfs: Path) -> None:
    result = scratch.run(rootfs, ["sh", "-c", "ls /dev && echo gone > /dev/null && head -c 3 /dev/zero | wc -c"])
    assert result.output.split() == [*sorted(scratch.DEVICES), "3"]


def test_limits_apply_and_are_reported(rootfs: Path) -> None:
    oom = scratch.run(rootfs, ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], memory=16 << 20)
    assert oom.exit_status == 137 and oom.stats.oom_kills == 1
    forks = scratch.run(rootfs, ["sh", "-c", "for i in 1 2 3 4 5 6; do sleep 10 & done"], pids=4)
    assert "can't fork" in forks.output and forks.stats.pids_refused >= 1
