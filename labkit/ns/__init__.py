"""Linux namespaces, one system call at a time: what a runtime does before it execs.

A container is, first of all, a process in a fresh set of namespaces. This package is
in two parts, each one concept:

- :mod:`labkit.ns.calls`: the system calls (``unshare``, ``setns``, ``mount``,
  ``pivot_root``, ...) and the namespaces ``/proc/PID/ns`` shows;
- :mod:`labkit.ns.child`: :func:`spawn` and :func:`run`, which make those calls in a
  child process, so that the caller (a notebook's kernel) never moves.

Use it as one module::

    from labkit import ns
    ns.run(lambda: (ns.sethostname("inside"), socket.gethostname())[1], flags=ns.CLONE_NEWUTS)
"""

from __future__ import annotations

from .calls import (
    CLONE_FLAGS,
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWTIME,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    Namespace,
    id_map,
    mount,
    mount_proc,
    namespaces,
    pivot_root,
    set_id_map,
    sethostname,
    setns,
    shared,
    umount,
    unshare,
)
from .child import Child, run, spawn

__all__ = [
    "CLONE_NEWCGROUP", "CLONE_NEWIPC", "CLONE_NEWNET", "CLONE_NEWNS", "CLONE_NEWPID",
    "CLONE_NEWTIME", "CLONE_NEWUSER", "CLONE_NEWUTS", "CLONE_FLAGS",
    "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_BIND", "MS_REC", "MS_PRIVATE", "MNT_DETACH",
    "Namespace", "namespaces", "shared",
    "unshare", "setns", "sethostname", "mount", "umount", "pivot_root", "mount_proc",
    "id_map", "set_id_map",
    "Child", "spawn", "run",
]
