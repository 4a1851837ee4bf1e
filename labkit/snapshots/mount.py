"""Mounts: how a snapshot is handed to whoever needs its files.

A snapshotter does not mount anything itself; like containerd's, it returns a list of
``Mount`` records (type, source, options — the arguments of ``mount(8)``) and the
caller mounts them where it wants, usually a container's ``rootfs``. ``mount_all``
and ``unmount`` do that with the ``mount(2)`` and ``umount2(2)`` calls of ``labkit.ns``.

``mount(2)`` takes its options in one page of memory (4096 bytes), and an overlay of an
image with many layers names each of them in ``lowerdir``: past about 60 absolute paths
it no longer fits. containerd (``mount/mount_linux.go``, ``compactLowerdirOption``)
then writes the lower directories relative to the directory they share and mounts from
a child process that has changed into it. labkit does the same, with ``mount(8)`` as
that child (``subprocess`` changes its directory between fork and exec).
"""

from __future__ import annotations

import errno
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .. import ns
from ..errors import FailedPrecondition, Unavailable

__all__ = ["Mount", "mount_all", "unmount"]

# <sys/mount.h>: a read-only bind mount is a bind mount remounted read-only (mount(8), "bind mount operation")
_MS_RDONLY = 0x1
_MS_REMOUNT = 0x20
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")  # the most option bytes mount(2) copies in


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


def mount_all(mounts: list[Mount], target: Path | str) -> None:
    """Mount each of ``mounts`` on ``target``, in order (containerd's ``mount.All``)."""
    for mount in mounts:
        if mount.type == "bind":
            ns.mount(mount.source, target, None, ns.MS_BIND | (ns.MS_REC if "rbind" in mount.options else 0))
            if mount.readonly:
                ns.mount("none", target, None, _MS_REMOUNT | ns.MS_BIND | _MS_RDONLY)
        else:
            data = ",".join(option for option in mount.options if option not in ("ro", "rw"))
            if len(data) < _PAGE_SIZE:
                ns.mount(mount.source, target, mount.type, _MS_RDONLY if mount.readonly else 0, data)
            else:
                _mount_compacted(mount, Path(target).absolute())


def _mount_compacted(mount: Mount, target: Path) -> None:
    """Mount an overlay whose options pass a page: lower directories relative to the one they share."""
    options = dict(option.partition("=")[::2] for option in mount.options)
    lowers = options["lowerdir"].split(":")
    common = os.path.commonpath(lowers)
    options["lowerdir"] = ":".join(os.path.relpath(lower, common) for lower in lowers)
    data = ",".join(f"{key}={value}" if value else key for key, value in options.items())
    done = subprocess.run(["mount", "-t", mount.type, "-o", data, mount.source, str(target)], cwd=common,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise Unavailable(f"mounting {len(lowers)} layers on {target} failed: {done.stderr.strip()}")


def unmount(target: Path | str) -> None:
    """Unmount what is mounted on ``target`` (FailedPrecondition while it is in use)."""
    try:
        ns.umount(target)
    except OSError as err:
        if err.errno == errno.EBUSY:
            raise FailedPrecondition(f"unmount {target}: it is still in use") from None
        raise
