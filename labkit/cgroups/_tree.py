"""The cgroup tree of this host: its version and layout, what is delegated to this user, where the lab's groups live."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..errors import PermissionDenied
from ..paths import CGROUP_PARENT

__all__ = ["MOUNT", "version", "layout", "delegated", "parent", "prepare", "groups"]

#: where the cgroup file systems are mounted
MOUNT = Path("/sys/fs/cgroup")
#: the v2 controllers labkit enables for its groups (``cgroup.subtree_control`` of each parent)
_V2_CONTROLLERS = ("memory", "pids", "cpu")


def version(mount: Path = MOUNT) -> int:
    """1 or 2: v2 mounts the unified tree itself at ``/sys/fs/cgroup`` (it has ``cgroup.controllers``)."""
    return 2 if (mount / "cgroup.controllers").exists() else 1


def layout(mount: Path = MOUNT) -> str:
    """How the host mounts its cgroups: ``"v2"`` (unified, what systemd boots by default since 2021),
    ``"hybrid"`` (v1 controllers plus an empty cgroup2 tree at ``unified/``, systemd's legacy layout)
    or ``"v1"`` (v1 hierarchies only)."""
    if version(mount) == 2:
        return "v2"
    return "hybrid" if (mount / "unified" / "cgroup.controllers").exists() else "v1"


def delegated(mount: Path = MOUNT) -> PurePosixPath | None:
    """The v2 subtree delegated to this (unprivileged) process: the highest group above it that it owns.

    This process's own group is the line ``0::/path`` of ``/proc/self/cgroup``. Going up
    from there, a group is this user's to manage while its directory and ``cgroup.procs``
    are owned by the user (what delegation chowns); the highest one is the delegation's root.
    None on v1, or when nothing above this process is delegated to it.
    """
    if version(mount) != 2:
        return None
    line = next((entry for entry in Path("/proc/self/cgroup").read_text().splitlines() if entry.startswith("0::")), "")
    found = None
    for group in [PurePosixPath(line[3:]), *PurePosixPath(line[3:]).parents]:
        if group == PurePosixPath("/") or not _owned(mount / group.relative_to("/")):
            break
        found = group
    return found


def _owned(directory: Path) -> bool:
    uid = os.geteuid()
    try:
        return directory.stat().st_uid == uid and (directory / "cgroup.procs").stat().st_uid == uid
    except FileNotFoundError:
        return False


def parent(mount: Path = MOUNT) -> PurePosixPath:
    """Where the lab's groups live, as a path in the cgroup tree: ``/labkit``, or ``<delegated>/labkit``.

    Root puts them at the top of the tree (of each hierarchy, on v1). An ordinary user puts
    them in the subtree delegated to it (:func:`delegated`); without one it cannot make any.
    """
    if os.geteuid() == 0:
        return PurePosixPath("/", CGROUP_PARENT)
    subtree = delegated(mount)
    if subtree is None:
        raise PermissionDenied("no cgroup is delegated to this user: cgroups need root, or a delegated subtree "
                               "(cgroup v2 with systemd: run under `systemd-run --user --scope -p Delegate=yes`)")
    return subtree / CGROUP_PARENT


def prepare(mount: Path = MOUNT) -> None:
    """Make the lab's parent ready for groups (v2: every group above them, from the top the lab may write).

    In v2 a controller is available to a group only if its parent lists it in
    ``cgroup.subtree_control`` (cgroup-v2.rst, "Enabling and Disabling"), and a group
    that enables controllers for its children may hold no process itself ("no internal
    processes"; the root is exempt). ``labkit/`` never holds one; a delegated subtree may
    (the program it was delegated to), so those processes first move to a leaf beside
    ``labkit/``, ``init/``, as systemd's own user manager keeps itself in ``init.scope``.
    A runtime given ``cgroupsPath`` under the parent then finds it ready (runc enables
    controllers on its way down too, but ignores what it may not write: a delegated
    subtree's own processes).
    """
    if version(mount) != 2:
        return
    labkit = mount / parent(mount).relative_to("/")
    try:
        for group in (labkit.parent, labkit):
            group.mkdir(exist_ok=True)
            if group != mount:
                _empty(group)
            _enable(group, _V2_CONTROLLERS)
    except PermissionError:
        raise PermissionDenied(f"cannot prepare the lab's cgroups under {labkit.parent}: needs root, "
                               "or a delegated subtree") from None


def groups(mount: Path = MOUNT) -> list[str]:
    """The names of the lab's cgroups (``labkit/<name>``) that exist now."""
    try:
        top = mount / ("memory" if version(mount) == 1 else "") / parent(mount).relative_to("/")
    except PermissionDenied:
        return []
    return sorted(p.name for p in top.iterdir() if p.is_dir()) if top.is_dir() else []


def _empty(group: Path) -> None:
    """Move the processes of ``group`` into its leaf ``init/``, so that it may enable controllers for its children."""
    procs = (group / "cgroup.procs").read_text().split()
    if procs:
        (group / "init").mkdir(exist_ok=True)
        for pid in procs:
            try:
                (group / "init" / "cgroup.procs").write_text(pid)
            except ProcessLookupError:  # it exited meanwhile
                pass


def _enable(parent: Path, controllers: tuple[str, ...]) -> None:
    """Enable ``controllers`` for ``parent``'s children, each that the parent has (``cgroup.controllers``).

    A delegated subtree may lack one (systemd delegates ``memory`` and ``pids`` to a user by
    default, ``cpu`` only where configured): limits on it then fail, one line naming it.
    """
    have = (parent / "cgroup.controllers").read_text().split()
    enabled = (parent / "cgroup.subtree_control").read_text().split()
    wanted = " ".join(f"+{c}" for c in controllers if c in have and c not in enabled)
    if wanted:
        (parent / "cgroup.subtree_control").write_text(wanted)


