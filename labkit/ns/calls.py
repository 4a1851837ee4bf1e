"""The namespace system calls, and what ``/proc`` says about namespaces.

A namespace wraps one global resource (host name, mount table, process ids, network
stack, ...) so that the processes inside see their own copy of it (man 7 namespaces).

- inspection: :func:`namespaces` reads ``/proc/PID/ns/*`` (each link names a type and
  an inode; two processes share a namespace exactly when the inodes are equal) and
  :func:`shared` compares two processes;
- the system calls: :func:`unshare`, :func:`setns`, :func:`sethostname`, :func:`mount`,
  :func:`umount`, :func:`pivot_root`, :func:`mount_proc`, and user namespace id maps.

Every call that changes namespaces or mounts acts on the *calling* process: call them
in a child (:mod:`labkit.ns.child`), never in a notebook's kernel.
``os.unshare``/``os.setns`` exist only from Python 3.12; below that we call libc through
ctypes. The flag values are the kernel's (``include/uapi/linux/sched.h``, ``mount.h``).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgument, NotFound, PermissionDenied

__all__ = [
    "CLONE_NEWCGROUP", "CLONE_NEWIPC", "CLONE_NEWNET", "CLONE_NEWNS", "CLONE_NEWPID",
    "CLONE_NEWTIME", "CLONE_NEWUSER", "CLONE_NEWUTS", "CLONE_FLAGS",
    "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_BIND", "MS_REC", "MS_PRIVATE", "MNT_DETACH",
    "Namespace", "namespaces", "shared",
    "unshare", "setns", "sethostname", "mount", "umount", "pivot_root", "mount_proc",
    "id_map", "set_id_map",
]

# clone(2) flags, one per namespace type (include/uapi/linux/sched.h).
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
#: namespace type, as ``/proc/PID/ns`` names it -> its clone flag
CLONE_FLAGS = {
    "cgroup": CLONE_NEWCGROUP, "ipc": CLONE_NEWIPC, "mnt": CLONE_NEWNS, "net": CLONE_NEWNET,
    "pid": CLONE_NEWPID, "time": CLONE_NEWTIME, "user": CLONE_NEWUSER, "uts": CLONE_NEWUTS,
}

# mount(2) flags (include/uapi/linux/mount.h) and umount2(2)'s lazy-detach flag.
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2

#: glibc has no pivot_root() wrapper: the raw system call number, per architecture
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    """Turn a failed libc call (-1 and errno) into labkit's error kinds."""
    if result == 0:
        return
    code = ctypes.get_errno()
    message = f"{what}: {os.strerror(code)}"
    if code in (errno.EPERM, errno.EACCES):
        raise PermissionDenied(message)
    if code == errno.ENOENT:
        raise NotFound(message)
    if code == errno.EINVAL:
        raise InvalidArgument(message)
    raise OSError(code, message)


# --- inspection ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Namespace:
    """One namespace, as a ``/proc/PID/ns/TYPE`` link shows it: ``uts:[4026531838]``."""

    type: str
    inode: int

    def __str__(self) -> str:
        return f"{self.type}:[{self.inode}]"


def namespaces(pid: int | str = "self") -> dict[str, Namespace]:
    """The namespaces of process ``pid``, keyed by the entry name in ``/proc/PID/ns``.

    ``pid_for_children`` and ``time_for_children`` are where the process's *next*
    children will go: after ``unshare(CLONE_NEWPID)`` only they change (man 7 pid_namespaces).
    """
    directory = Path(f"/proc/{pid}/ns")
    result = {}
    try:
        for entry in sorted(os.listdir(directory)):
            try:
                link = os.readlink(directory / entry)
            except FileNotFoundError:  # pid_for_children of a PID namespace with no process in it yet
                continue
            kind, _, inode = link.partition(":")
            result[entry] = Namespace(kind, int(inode.strip("[]")))
    except FileNotFoundError:
        raise NotFound(f"no such process: {pid}") from None
    except PermissionError:
        raise PermissionDenied(f"cannot inspect the namespaces of process {pid} (ptrace access mode)") from None
    return result


def shared(a: int | str, b: int | str = "self") -> dict[str, bool]:
    """For each namespace entry, whether processes ``a`` and ``b`` share it (same inode)."""
    ours, theirs = namespaces(a), namespaces(b)
    return {entry: ours[entry] == theirs.get(entry) for entry in ours}


# --- the system calls ---------------------------------------------------------------------


def unshare(flags: int) -> None:
    """Move the *calling* process into new namespaces (unshare(2)). Call it in a child."""
    if hasattr(os, "unshare"):  # Python 3.12+
        os.unshare(flags)
    else:
        _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(path: str | os.PathLike[str], nstype: int = 0) -> None:
    """Move the calling process into the namespace that ``path`` (a ``/proc/PID/ns/*`` link) names."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if hasattr(os, "setns"):  # Python 3.12+
            os.setns(fd, nstype)
        else:
            _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), f"setns {path}")
    finally:
        os.close(fd)


def sethostname(name: str) -> None:
    """Set the host name — of the caller's UTS namespace only, which is the point of one."""
    socket.sethostname(name)


def mount(source: str, target: str | os.PathLike[str], fstype: str | None = None,
          flags: int = 0, data: str | None = None) -> None:
    """mount(2): attach a file system (or, with ``MS_BIND``, a directory) at ``target``."""
    encode = lambda s: None if s is None else os.fsencode(s)  # noqa: E731
    result = _libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data))
    _check(result, f"mount {source} on {target}")


def umount(target: str | os.PathLike[str], flags: int = 0) -> None:
    """umount2(2); ``MNT_DETACH`` detaches now and frees the mount when it is no longer busy."""
    _check(_libc.umount2(os.fsencode(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str | os.PathLike[str], put_old: str | os.PathLike[str]) -> None:
    """pivot_root(2): make ``new_root`` the root of this mount namespace, the old root moving to ``put_old``.

    Unlike chroot(2), this changes the mount table itself, so once ``put_old`` is
    unmounted the host's root is gone from the namespace, not merely out of sight.
    ``new_root`` must be a mount point (bind-mount a directory onto itself first).
    """
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise InvalidArgument(f"pivot_root: unknown system call number on {platform.machine()}")
    _check(_libc.syscall(ctypes.c_long(number), os.fsencode(new_root), os.fsencode(put_old)), "pivot_root")


def mount_proc(target: str | os.PathLike[str] = "/proc") -> None:
    """Mount a fresh procfs: it shows the processes of the *mounting* process's PID namespace."""
    mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def id_map(pid: int | str = "self", kind: str = "uid") -> list[tuple[int, int, int]]:
    """A user namespace's ``uid_map`` or ``gid_map``: (inside, outside, count) ranges (man 7 user_namespaces)."""
    text = Path(f"/proc/{pid}/{kind}_map").read_text()
    return [tuple(int(n) for n in line.split()) for line in text.splitlines()]  # type: ignore[misc]


def set_id_map(pid: int, kind: str, ranges: Iterable[tuple[int, int, int]]) -> None:
    """Write a new user namespace's ``uid_map`` or ``gid_map`` (once; from its parent namespace)."""
    Path(f"/proc/{pid}/{kind}_map").write_text("".join(f"{a} {b} {n}\n" for a, b, n in ranges))
