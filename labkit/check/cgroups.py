"""Checks for notebook 03, cgroups."""

from __future__ import annotations

from .. import cgroups
from ..errors import NotFound
from . import hint, passed

__all__ = ["limited"]

_MIB = 1 << 20


def limited(group: cgroups.Cgroup) -> bool:
    """``group``: ``labkit/ex03``, limited to 64 MiB of memory and 16 processes, with a process in it."""
    if not isinstance(group, cgroups.Cgroup):
        return hint("pass the Cgroup object that cgroups.create returned")
    if group.name != "ex03":
        return hint(f"the group is called {group.name!r}: create it as 'ex03'")
    try:
        stats = group.stats()
    except NotFound:
        return hint("the group does not exist (any more): create it, and remove it only after this check")
    if stats.memory_limit != 64 * _MIB:
        if stats.memory_limit == 64_000_000:
            return hint("64 MiB is 64 * 1024 * 1024 bytes (64 << 20), not 64 000 000")
        return hint(f"the memory limit is {stats.memory_limit} bytes: set memory=64 << 20")
    if stats.pids_limit != 16:
        return hint(f"the pids limit is {stats.pids_limit}: set pids=16")
    if not group.procs():
        return hint("no process is in the group: spawn one with setup=group.add (and keep it running)")
    return passed("64 MiB, 16 processes, and a process that lives within them")
