"""A container from scratch: what runc does, in a few dozen lines and no runc.

Only the primitives of :mod:`labkit.ns` and :mod:`labkit.cgroups`, in the order a
runtime uses them (OCI runtime spec, runtime.md "Lifecycle" and config-linux.md)::

    cgroup = cgroups.create(...)                  # limits, before anything runs
    child  = ns.spawn(init, flags=FLAGS,          # new UTS, PID, mount, IPC, net namespaces
                      setup=cgroup.add)           # into the cgroup, then let init run
    init:  sethostname -> pivot_root into the rootfs -> fresh /proc -> /dev -> exec
    status = child.wait()                         # PID 1's exit status is the container's
    cgroup.remove()

Every mount is made inside the container's private mount namespace, so it vanishes
with the container's last process: nothing is left mounted on the host. The cgroup
is ``labkit/scratch-<random>``, removed on the way out.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from . import cgroups, ns

__all__ = ["FLAGS", "DEVICES", "ENV", "Result", "run"]

#: the namespaces of ``runc spec``'s default config (OCI runtime spec, config-linux.md: Namespaces)
FLAGS = ns.CLONE_NEWUTS | ns.CLONE_NEWPID | ns.CLONE_NEWNS | ns.CLONE_NEWIPC | ns.CLONE_NEWNET
#: the device nodes every container gets (config-linux.md: Default Devices): name -> (major, minor)
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}
#: the environment of ``runc spec`` (and of the lab's busybox image)
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM": "xterm"}


@dataclass(frozen=True)
class Result:
    """How the container ended: PID 1's exit status, everything it wrote, its cgroup's last stats."""

    exit_status: int
    output: str
    stats: cgroups.Stats


def _enter_rootfs(rootfs: str) -> None:
    """Make ``rootfs`` the root and drop the host's (runc: libcontainer/rootfs_linux.go, pivotRoot)."""
    ns.mount(rootfs, rootfs, None, ns.MS_BIND | ns.MS_REC)  # pivot_root wants a mount point
    os.chdir(rootfs)
    ns.pivot_root(".", ".")           # the old root is now mounted on top of the new one...
    ns.umount(".", ns.MNT_DETACH)     # ...so unmounting "." uncovers the new root alone
    os.chdir("/")


def _make_dev() -> None:
    """A small tmpfs ``/dev`` with the default devices (what ``runc spec``'s mounts and devices give)."""
    ns.mount("tmpfs", "/dev", "tmpfs", ns.MS_NOSUID, "mode=755,size=64k")
    for name, (major, minor) in DEVICES.items():
        os.mknod(f"/dev/{name}", stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(f"/dev/{name}", 0o666)  # mknod's mode passed through the umask


def _init(rootfs: str, args: Sequence[str], hostname: str, env: Mapping[str, str]) -> None:
    """The container's PID 1 until it execs ``args``: runs inside all the new namespaces."""
    ns.sethostname(hostname)
    _enter_rootfs(rootfs)
    ns.mount_proc("/proc")            # a /proc of *this* PID namespace, not the host's
    _make_dev()
    os.execvpe(args[0], list(args), dict(env))


def run(rootfs: str | os.PathLike[str], args: Sequence[str], *, hostname: str = "scratch",
        env: Mapping[str, str] = ENV, memory: int | None = None, pids: int | None = None,
        cpus: float | None = None) -> Result:
    """Run ``args`` in a container on ``rootfs`` (an unpacked image), wait, and say how it ended.

    ``memory`` (bytes), ``pids`` and ``cpus`` are cgroup limits. The exit status is the
    program's, or 128+N if signal N killed it (137: the OOM killer's SIGKILL).
    """
    rootfs = str(Path(rootfs).resolve())
    with cgroups.create(f"scratch-{secrets.token_hex(4)}", memory=memory, pids=pids, cpus=cpus) as cgroup:
        child = ns.spawn(partial(_init, rootfs, args, hostname, env), flags=FLAGS, setup=cgroup.add, capture=True)
        with child:
            output = child.output()
            status = child.wait()
        return Result(status, output, cgroup.stats())
