"""The overlay snapshotter: each snapshot holds only its own layer; overlayfs stacks them.

An active snapshot is mounted as ``overlay`` with its parents as ``lowerdir`` (top
first), its own directory as ``upperdir`` and a scratch ``workdir`` on the same
filesystem (kernel docs, filesystems/overlayfs.rst). Writes land in the upper
directory — copy-on-write — and the layers below are never touched. A snapshot
without parents is simply a bind mount of its directory (as containerd does).
"""

from __future__ import annotations

from ._base import Snapshotter
from ._metadata import Info
from .mount import Mount

__all__ = ["Overlay"]


class Overlay(Snapshotter):
    """Snapshots as overlayfs layers (containerd's ``overlayfs`` snapshotter)."""

    name = "overlay"

    def _populate(self, info: Info, parents: list[Info]) -> None:
        if info.kind == "active" and parents:
            (self._fs(info).parent / "work").mkdir()

    def _mounts(self, info: Info, parents: list[Info]) -> list[Mount]:
        mode = "ro" if info.kind == "view" else "rw"
        if not parents:
            return [Mount("bind", str(self._fs(info)), ["rbind", mode])]
        if info.kind == "view" and len(parents) == 1:  # one read-only layer needs no overlay
            return [Mount("bind", str(self._fs(parents[0])), ["rbind", "ro"])]
        lower = "lowerdir=" + ":".join(str(self._fs(p)) for p in parents)
        if info.kind == "view":
            return [Mount("overlay", "overlay", [lower, "ro"])]
        work = self._fs(info).parent / "work"
        return [Mount("overlay", "overlay", [f"workdir={work}", f"upperdir={self._fs(info)}", lower])]
