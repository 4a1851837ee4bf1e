"""``labkit lab clean``: remove everything the lab made on the host, after a crashed lesson too.

A kernel killed mid-lesson can leave containers running, overlay mounts mounted,
cgroups populated and veth pairs behind. The lab names everything it makes outside
its root (``labkit.paths``), so cleaning is a walk over those names, in the order
that lets each step succeed:

0. the lab's private containerd, with its tasks and shims (``labkit.lab.containerd``);
1. containers known to the runtimes under the lab root: ``runc delete --force``;
2. processes left in the lab's cgroups: thawed (a frozen task cannot die), killed;
3. the lab's cgroups, deepest first;
4. every mount below the lab root, deepest first;
5. the lab's network: named netns ``labkit-*``, veths ``lk*``, the bridge ``labkit0``;
6. container records, and every snapshot that is not committed: containers' writable
   layers and unpacks cut short (images, content and committed layers stay).

Each step reports what it removed, so the learner sees what had leaked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .. import cgroups, snapshots
from ..errors import PermissionDenied
from ..paths import BRIDGE, NETNS_PREFIX, VETH_PREFIX, default_root
from .containerd import Containerd

__all__ = ["clean"]

RUNTIMES = ("runc", "crun")
SNAPSHOTTERS = ("native", "overlay")
CGROUP_MOUNT = Path("/sys/fs/cgroup")


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def _containerd(root: Path) -> Iterator[str]:
    daemon = Containerd(root)
    if daemon.pid is not None:
        daemon.stop()
        yield "stopped the lab's containerd and its tasks"


def _containers(root: Path) -> Iterator[str]:
    for runtime in RUNTIMES:
        state = root / runtime
        if state.is_dir() and shutil.which(runtime):
            for container in sorted(p.name for p in state.iterdir() if p.is_dir()):
                if _run([runtime, "--root", str(state), "delete", "--force", container]).returncode == 0:
                    yield f"deleted {runtime} container {container}"


def _lab_cgroups() -> list[Path]:
    """Every cgroup directory under the lab's parent, deepest first.

    The parent is ``labkit/`` in every v1 hierarchy or in the v2 tree; for an ordinary user,
    ``labkit/`` in the subtree delegated to it (:func:`labkit.cgroups.parent`), so that an
    attendee's clean touches only the attendee's own groups.
    """
    try:
        parent = cgroups.parent().relative_to("/")
    except PermissionDenied:  # nothing is delegated to this user: it has no cgroups
        return []
    tops = [*CGROUP_MOUNT.glob(f"*/{parent}"), CGROUP_MOUNT / parent]
    groups = {Path(directory) for top in tops for directory, _, _ in os.walk(top)}  # os.walk skips what vanishes
    return sorted(groups, key=lambda p: len(p.parts), reverse=True)


def _kill_cgroup_members(groups: list[Path]) -> Iterator[str]:
    # A group can vanish while we walk (its last task exited and the runtime removed it): skip it.
    for group in groups:
        with contextlib.suppress(FileNotFoundError):
            if (group / "freezer.state").exists():
                (group / "freezer.state").write_text("THAWED")  # a frozen task cannot die
            elif (group / "cgroup.freeze").exists():
                (group / "cgroup.freeze").write_text("0")
    for group in groups:
        try:
            pids = (group / "cgroup.procs").read_text().split()
        except FileNotFoundError:
            continue
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
                yield f"killed process {pid} left in {group}"
            except ProcessLookupError:
                pass


def _remove_cgroups(groups: list[Path]) -> Iterator[str]:
    for group in groups:
        for _ in range(20):  # a killed process leaves its cgroup a moment later
            try:
                group.rmdir()
                yield f"removed cgroup {group}"
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


def _mounts_below(root: Path) -> list[str]:
    prefix = str(root.resolve()).rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix):
            points.append(point)
    return sorted(set(points), key=len, reverse=True)


def _unmount(root: Path) -> Iterator[str]:
    for point in _mounts_below(root):
        if _run(["umount", "--lazy", point]).returncode == 0:
            yield f"unmounted {point}"


def _network() -> Iterator[str]:
    netns = Path("/run/netns")
    for ns in sorted(netns.glob(f"{NETNS_PREFIX}*")) if netns.is_dir() else []:
        if _run(["ip", "netns", "delete", ns.name]).returncode == 0:
            yield f"deleted network namespace {ns.name}"
    links = _run(["ip", "-o", "link", "show"]).stdout.splitlines()
    names = [line.split(":")[1].strip().split("@")[0] for line in links if ":" in line]
    for name in names:
        if (name.startswith(VETH_PREFIX) or name == BRIDGE) and _run(["ip", "link", "delete", name]).returncode == 0:
            yield f"deleted network interface {name}"


def _records(root: Path) -> Iterator[str]:
    containers = root / "containers"
    for record in sorted(containers.iterdir()) if containers.is_dir() else []:
        shutil.rmtree(record, ignore_errors=True)
        yield f"removed container record {record.name}"


def _uncommitted_snapshots(root: Path) -> Iterator[str]:
    for name in SNAPSHOTTERS:
        if not (root / "snapshots" / name).is_dir():
            continue
        snapshotter = snapshots.get(name, root)
        for info in snapshotter.walk():
            if info.kind != "committed":
                snapshotter.remove(info.name)
                yield f"removed {info.kind} {name} snapshot {info.name}"


def clean(root: Path | None = None) -> list[str]:
    """Remove every container, cgroup, mount and network object the lab made; say what went."""
    root = root or default_root()
    done = list(_containerd(root))
    done += _containers(root)
    groups = _lab_cgroups()
    done += _kill_cgroup_members(groups)
    done += _remove_cgroups(groups)
    done += _unmount(root)
    if os.geteuid() == 0:
        done += _network()
    done += _records(root)
    done += _uncommitted_snapshots(root)
    return done or ["nothing to clean"]
