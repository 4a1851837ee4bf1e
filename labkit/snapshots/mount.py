"""Mounts: how a snapshot is handed to whoever needs its files.

A snapshotter does not mount anything itself; like containerd's, it returns a list of
``Mount`` records (type, source, options — the arguments of ``mount(8)``) and the
caller mounts them where it wants, usually a container's ``rootfs``. ``mount_all``
and ``unmount`` do that with the ``mount(2)`` and ``umount2(2)`` system calls.
"""

from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FailedPrecondition, InvalidArgument, PermissionDenied

__all__ = ["Mount", "mount_all", "unmount"]

# <sys/mount.h>
_MS_RDONLY = 0x1
_MS_REMOUNT = 0x20
_MS_BIND = 0x1000
_MS_REC = 0x4000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


@dataclass(frozen=True)
class Mount:
    """One mount, as containerd's ``mount.Mount``: ``mount -t TYPE -o OPTIONS SOURCE TARGET``."""

    type: str
    source: str
    options: list[str] = field(default_factory=list)

    @property
    def readonly(self) -> bool:
        return "ro" in self.options

    def command(self, target: Path | str) -> list[str]:
        """The ``mount(8)`` command line that makes this mount at ``target``."""
        return ["mount", "-t", self.type, "-o", ",".join(self.options), self.source, str(target)]


def _call(result: int, what: str, target: Path | str) -> None:
    if result == 0:
        return
    code = ctypes.get_errno()
    message = f"{what} {target}: {os.strerror(code)}"
    if code in (errno.EPERM, errno.EACCES):
        raise PermissionDenied(message)
    if code == errno.EBUSY:
        raise FailedPrecondition(message)
    raise InvalidArgument(message)


def _mount_one(mount: Mount, target: Path | str) -> None:
    dest = os.fsencode(str(target))
    if mount.type == "bind":
        flags = _MS_BIND | (_MS_REC if "rbind" in mount.options else 0)
        _call(_libc.mount(os.fsencode(mount.source), dest, None, flags, None), "bind mount on", target)
        if mount.readonly:  # a bind mount is made read-only by a second, remounting call (mount(8), "bind")
            _call(_libc.mount(None, dest, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY, None), "remount", target)
        return
    flags = _MS_RDONLY if mount.readonly else 0
    data = ",".join(o for o in mount.options if o not in ("ro", "rw"))
    fstype = os.fsencode(mount.type)
    _call(_libc.mount(os.fsencode(mount.source), dest, fstype, flags, data.encode()), f"mount {mount.type} on", target)


def mount_all(mounts: list[Mount], target: Path | str) -> None:
    """Mount each of ``mounts`` on ``target``, in order (containerd's ``mount.All``)."""
    for mount in mounts:
        _mount_one(mount, target)


def unmount(target: Path | str) -> None:
    """Unmount what is mounted on ``target`` (FailedPrecondition if it is still in use)."""
    _call(_libc.umount2(os.fsencode(str(target)), 0), "unmount", target)
