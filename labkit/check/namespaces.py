"""Checks for notebooks 01 (namespaces), 02 (root filesystem) and 04 (a container from scratch)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .. import ns
from ..errors import LabkitError
from . import hint, passed

__all__ = ["isolated", "enter_rootfs", "scratch_result"]

# (flags the check's child gets, the namespace types it should then be alone in)
_ISOLATED_CASES = [
    (ns.CLONE_NEWUTS, {"uts"}),
    (ns.CLONE_NEWNET | ns.CLONE_NEWIPC, {"net", "ipc"}),
    (ns.CLONE_NEWPID, {"pid"}),
    (0, set()),
]


def isolated(answer: Callable[[int], set[str]]) -> bool:
    """``answer(pid)``: the namespace *types* (``uts``, ``net``, ...) in which ``pid`` is not with this process."""
    for flags, expected in _ISOLATED_CASES:
        with ns.spawn(lambda: os.execvp("sleep", ["sleep", "60"]), flags=flags) as child:
            got = set(answer(child.pid))
        if got == expected:
            continue
        if "pid_for_children" in got or "time_for_children" in got:
            return hint("name types, not /proc/PID/ns entries: use Namespace.type, so pid_for_children counts as pid")
        if not got and expected:
            return hint(f"a child unshared {sorted(expected)} and your answer found nothing: compare inodes, not types")
        if got > expected:
            return hint(f"for a child with only {sorted(expected) or 'no'} new namespaces you also said "
                        f"{sorted(got - expected)}: compare with this process's namespaces (ns.namespaces()), not pid 1's")
        return hint(f"for a child with new {sorted(expected)} you said {sorted(got)}")
    return passed("you can tell which namespaces a process has to itself from /proc alone")


def _probe(enter: Callable[[str], None], root: str) -> tuple[list[str], list[str]]:
    """In a child: mount a tmpfs root, let ``enter`` switch to it, then try the chroot escape."""
    ns.mount("tmpfs", root, "tmpfs")
    Path(root, "marker").write_text("")
    enter(root)
    inside = sorted(os.listdir("/"))
    os.mkdir("/escape")
    os.chroot("/escape")          # the classic escape: a new chroot, while the cwd stays outside it...
    for _ in range(64):
        os.chdir("..")            # ...so ".." climbs past the old root...
    os.chroot(".")                # ...and whatever top we reach becomes our root
    escaped = sorted(os.listdir("/"))
    return inside, escaped


def enter_rootfs(answer: Callable[[str], None]) -> bool:
    """``answer(rootfs)``: make ``rootfs`` the root of the (new, private) mount namespace, for good."""
    with tempfile.TemporaryDirectory(prefix="labkit-ex02-") as root:
        try:
            inside, escaped = ns.run(lambda: _probe(answer, root), flags=ns.CLONE_NEWNS)
        except LabkitError as err:
            if "pivot_root" in str(err):
                return hint(f"{err}: new_root must be a mount point (bind-mount it onto itself) and "
                            "put_old must be at or under it (pivot_root('.', '.') after chdir works)")
            return hint(f"the switch failed: {err}")
    if inside != ["marker"]:
        return hint(f"after your function / holds {inside}, not just the new root's 'marker': chdir into the new "
                    "root, and unmount the old root once you have pivoted")
    if escaped != ["escape", "marker"]:
        return hint("the chroot escape got out to the host's root: chroot(2) only moves the process's view; "
                    "use pivot_root and unmount the old root (MNT_DETACH)")
    return passed("the new root is the only root: the chroot escape ends where it started")


def scratch_result(result: object) -> bool:
    """``result``: what ``scratch.run`` returned for ``sh -c 'hostname; echo $$'``, hostname ``ex04``, 10 pids at most."""
    output = getattr(result, "output", None)
    if output is None:
        return hint("pass the Result that labkit.scratch.run returned")
    lines = output.split()
    if result.exit_status != 0:  # type: ignore[attr-defined]
        return hint(f"the container exited with status {result.exit_status}: its output was {output!r}")  # type: ignore[attr-defined]
    if lines[:1] != ["ex04"]:
        return hint(f"the hostname printed was {lines[:1]}: pass hostname='ex04' to scratch.run")
    if lines[1:2] != ["1"]:
        return hint(f"$$ printed {lines[1:2]}: run the command sh -c 'hostname; echo $$' itself, so that sh is PID 1")
    if result.stats.pids_limit != 10:  # type: ignore[attr-defined]
        return hint(f"the pids limit was {result.stats.pids_limit}: pass pids=10")  # type: ignore[attr-defined]
    return passed("your container had its own host name, its own PID 1 and a pids limit")
