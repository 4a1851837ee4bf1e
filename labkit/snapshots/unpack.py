"""Unpack an image into snapshots: one committed snapshot per layer, named by its ChainID.

For each layer, base first (containerd, ``rootfs.ApplyLayers``): if the snapshot named
by the ChainID of the layers so far is already committed, reuse it — two images that
share their lower layers share those snapshots. Otherwise ``prepare`` an active
snapshot on the previous one, apply the layer into it, and ``commit`` it under its
ChainID (image spec, config.md, "Layer ChainID")::

    ChainID(L0)      = DiffID(L0)
    ChainID(L0..Ln)  = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from ..archive import apply_layer
from ..errors import AlreadyExists, InvalidArgument, NotFound
from ._base import Snapshotter
from .mount import Mount

__all__ = ["chain_ids", "unpack", "apply_layers"]


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The ChainID of each prefix of the layer stack."""
    chain: list[str] = []
    for diff_id in diff_ids:
        chain.append(diff_id if not chain else "sha256:" + hashlib.sha256(f"{chain[-1]} {diff_id}".encode()).hexdigest())
    return chain


def _layers(image: Any) -> list[tuple[Path, str, str]]:
    """(blob path, media type, DiffID) of each layer, base first, checked against the config."""
    diff_ids = image.config["rootfs"]["diff_ids"]
    if not image.layers or len(diff_ids) != len(image.layers):
        raise InvalidArgument(f"image has {len(image.layers)} layers but its config lists {len(diff_ids)} DiffIDs")
    return [(image.store.path(layer.digest), layer.media_type, diff_id) for layer, diff_id in zip(image.layers, diff_ids, strict=True)]


def _apply_into(mounts: list[Mount], blob: Path, media_type: str, diff_id: str) -> None:
    """Apply a layer to a freshly prepared snapshot without mounting it (containerd's shortcut).

    A bind mount's source is the snapshot's directory; an overlay's ``upperdir`` is the
    new layer's, where whiteouts are written in overlay's form instead of carried out.
    """
    (mount,) = mounts
    if mount.type == "bind":
        apply_layer(Path(mount.source), blob, media_type, diff_id)
        return
    options = dict(option.split("=", 1) for option in mount.options if "=" in option)
    lowers = [Path(lower) for lower in options["lowerdir"].split(":")]
    apply_layer(Path(options["upperdir"]), blob, media_type, diff_id, lowers=lowers)


def unpack(image: Any, snapshotter: Snapshotter) -> str:
    """Unpack ``image`` (``layers``, ``config``, ``store``) into ``snapshotter``; return the top ChainID."""
    parent: str | None = None
    for (blob, media_type, diff_id), chain_id in zip(_layers(image), chain_ids(image.config["rootfs"]["diff_ids"]), strict=True):
        try:
            snapshotter.stat(chain_id)
        except NotFound:
            key = f"extract-{uuid.uuid4().hex[:12]} {chain_id}"  # containerd's key form for an unpack in progress
            mounts = snapshotter.prepare(key, parent)  # if it fails, it leaves nothing (Snapshotter._create)
            try:
                _apply_into(mounts, blob, media_type, diff_id)
                snapshotter.commit(chain_id, key)
            except AlreadyExists:  # another unpack committed the same layer first: use theirs
                snapshotter.remove(key)
            except BaseException:  # a bomb, a wrong DiffID, a full disk: nothing of the layer stays
                snapshotter.remove(key)
                raise
        parent = chain_id
    assert parent is not None
    return parent


def apply_layers(image: Any, target: Path) -> None:
    """Apply every layer of ``image`` straight into the empty directory ``target`` (no snapshots).

    If any layer fails (a bomb, a wrong DiffID, a full disk), ``target`` is emptied again,
    and removed if this made it: a half-applied root filesystem, or a layer that did not
    prove its DiffID (setuid files and all), is never left to be used.
    """
    layers = _layers(image)
    made = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    if any(os.scandir(target)):
        raise InvalidArgument(f"{target} is not empty")
    try:
        for blob, media_type, diff_id in layers:
            apply_layer(target, blob, media_type, diff_id)
    except BaseException:
        for entry in os.scandir(target):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        if made:
            target.rmdir()
        raise
