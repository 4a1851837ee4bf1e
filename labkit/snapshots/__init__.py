"""Snapshotters: how an image's layers become a container's root filesystem.

Two of containerd's snapshotters, one model (see ``_base``)::

    sn = labkit.snapshots.get("overlay")           # or "native"
    top = labkit.snapshots.unpack(image, sn)       # one committed snapshot per layer
    mounts = sn.prepare("demo", top)               # the container's writable layer
    labkit.snapshots.mount_all(mounts, "/tmp/rootfs")
    ...
    labkit.snapshots.unmount("/tmp/rootfs"); sn.remove("demo")   # the layers stay
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidArgument
from ..events import Publisher
from ._base import Snapshotter
from ._metadata import Info, Kind
from .mount import Mount, mount_all, unmount
from .native import Native
from .overlay import Overlay
from .unpack import apply_layers, chain_ids, unpack

__all__ = [
    "get",
    "Snapshotter",
    "Native",
    "Overlay",
    "Info",
    "Kind",
    "Mount",
    "mount_all",
    "unmount",
    "unpack",
    "apply_layers",
    "chain_ids",
]

_SNAPSHOTTERS: dict[str, type[Snapshotter]] = {"native": Native, "overlay": Overlay}


def get(name: str = "overlay", root: Path | None = None, publish: Publisher | None = None) -> Snapshotter:
    """The snapshotter called ``name`` ("overlay" or "native") over the lab root ``root``."""
    if name not in _SNAPSHOTTERS:
        raise InvalidArgument(f"unknown snapshotter {name!r} (choose from {', '.join(_SNAPSHOTTERS)})")
    return _SNAPSHOTTERS[name](root, publish)
