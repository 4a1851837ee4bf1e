"""The native snapshotter: every snapshot is a plain directory, a full copy of its parent.

It works everywhere (any filesystem, no privileges) and costs a copy of the whole tree
per layer and per container, which is why containerd's default is overlayfs
(containerd, ``snapshots/native``). Its mount is a bind mount of the directory.
"""

from __future__ import annotations

import errno
import os
import subprocess

from ..errors import Unavailable
from ._base import Snapshotter
from ._metadata import Info
from .mount import Mount

__all__ = ["Native"]


class Native(Snapshotter):
    """Snapshots as directories: ``prepare`` copies the parent, ``commit`` only renames the record."""

    name = "native"

    def _populate(self, info: Info, parents: list[Info]) -> None:
        if not parents:
            return
        # cp -a keeps what a layer means: owners, modes, times, xattrs, hardlinks, devices (coreutils)
        copy = subprocess.run(["cp", "-a", f"{self._fs(parents[0])}/.", str(self._fs(info))],
                              capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})  # fmt: skip
        if copy.returncode != 0 and os.strerror(errno.ENOSPC) in copy.stderr:  # cp says it in strerror's words
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # _create says so, naming the snapshot
        if copy.returncode != 0:
            raise Unavailable(f"copying snapshot {parents[0].name!r} failed: {copy.stderr.strip()}")

    def _mounts(self, info: Info, parents: list[Info]) -> list[Mount]:
        return [Mount("bind", str(self._fs(info)), ["rbind", "ro" if info.kind == "view" else "rw"])]
