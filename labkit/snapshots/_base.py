"""The snapshotter model both snapshotters share (containerd, docs/snapshotters/README.md).

A *committed* snapshot is a read-only layer named by its ChainID. ``prepare(key,
parent)`` makes an *active* snapshot on top of a committed one: a writable
filesystem that starts as the parent's contents. ``commit(name, key)`` freezes an
active snapshot into a committed one; ``view`` is a read-only active snapshot;
``remove`` deletes a snapshot that has no children. So unpacking an image is
``prepare → apply the layer → commit`` once per layer, and a container's root is one
more ``prepare`` on top of the image's last layer, which ``remove`` throws away
while the image's layers stay.

Subclasses say how a snapshot's files are made (``_populate``) and mounted (``_mounts``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar

from ..errors import AlreadyExists, FailedPrecondition, NotFound, disk_error
from ..events import Publisher
from ..paths import default_root
from ._metadata import Info, Kind, Records
from .mount import Mount

__all__ = ["Snapshotter"]


class Snapshotter:
    """Snapshots under ``<root>/snapshots/<name>/``: ``metadata.json`` and ``snapshots/<id>/fs``."""

    name: ClassVar[str]

    def __init__(self, root: Path | None = None, publish: Publisher | None = None) -> None:
        self.root = (root or default_root()) / "snapshots" / self.name
        self._records = Records(self.root)
        self._publish = publish

    # -- the containerd API --------------------------------------------------------------
    def prepare(self, key: str, parent: str | None = None) -> list[Mount]:
        """A new writable snapshot ``key`` on top of the committed ``parent`` (or empty); its mounts."""
        return self._create(key, parent, "active")

    def view(self, key: str, parent: str | None = None) -> list[Mount]:
        """A new read-only snapshot ``key`` of the committed ``parent``; its mounts."""
        return self._create(key, parent, "view")

    def commit(self, name: str, key: str) -> None:
        """Freeze the active snapshot ``key`` into the committed snapshot ``name``."""
        with self._records.transaction() as records:
            info = self._get(records, key)
            if info.kind != "active":
                raise FailedPrecondition(f"snapshot {key!r} is {info.kind}, only an active snapshot can be committed")
            if name in records:
                raise AlreadyExists(f"snapshot {name!r} already exists")
            del records[key]
            records[name] = Info(name, "committed", info.parent, info.created, info.id)
        self._emit("/snapshot/commit", {"key": key, "name": name})

    def remove(self, key: str) -> None:
        """Delete the snapshot ``key`` and its files; the snapshots below it stay."""
        with self._records.transaction() as records:
            info = self._get(records, key)
            if children := sorted(i.name for i in records.values() if i.parent == key):
                raise FailedPrecondition(f"snapshot {key!r} has children: {', '.join(children)}")
            del records[key]
            shutil.rmtree(self._dir(info), ignore_errors=True)
        self._emit("/snapshot/remove", {"key": key})

    def mounts(self, key: str) -> list[Mount]:
        """How to mount the active or view snapshot ``key``."""
        records = self._records.read()
        info = self._get(records, key)
        if info.kind == "committed":
            raise FailedPrecondition(f"snapshot {key!r} is committed: make a view of it to mount it")
        return self._mounts(info, self._parents(records, info))

    def stat(self, key: str) -> Info:
        """The record of one snapshot (NotFound if there is none)."""
        return self._get(self._records.read(), key)

    def walk(self) -> list[Info]:
        """Every snapshot, oldest first."""
        return sorted(self._records.read().values(), key=lambda info: info.id)

    # -- for subclasses -------------------------------------------------------------------
    def _populate(self, info: Info, parents: list[Info]) -> None:
        """Fill a new snapshot's directory (nothing by default: it starts empty)."""

    def _mounts(self, info: Info, parents: list[Info]) -> list[Mount]:
        raise NotImplementedError

    def _dir(self, info: Info) -> Path:
        return self.root / "snapshots" / str(info.id)

    def _fs(self, info: Info) -> Path:
        """The directory with a snapshot's own files (for overlay: its layer only)."""
        return self._dir(info) / "fs"

    # -- helpers ----------------------------------------------------------------------------
    def _create(self, key: str, parent: str | None, kind: Kind) -> list[Mount]:
        """Record and make a new snapshot: all of it, or (a full disk, a failed copy) nothing, and the real cause."""
        info: Info | None = None
        try:
            with self._records.transaction() as records:
                if key in records:
                    raise AlreadyExists(f"snapshot {key!r} already exists")
                if parent is not None and self._get(records, parent).kind != "committed":
                    raise FailedPrecondition(f"parent {parent!r} is not a committed snapshot")
                info = Records.new(records, key, kind, parent)
                parents = self._parents(records, info)
                self._fs(info).mkdir(parents=True)
                self._populate(info, parents)
        except BaseException as err:  # the records are written last, so none was: leave no directory either
            if info is not None:
                shutil.rmtree(self._dir(info), ignore_errors=True)
            if isinstance(err, OSError):
                raise disk_error(err, f"preparing snapshot {key!r} in {self.root}") from None
            raise
        if kind == "active":  # containerd publishes prepare, commit and remove; a view has no event of its own
            self._emit("/snapshot/prepare", {"key": key, "parent": parent or ""})
        return self._mounts(info, parents)

    @staticmethod
    def _get(records: dict[str, Info], key: str) -> Info:
        if key not in records:
            raise NotFound(f"snapshot {key!r} not found")
        return records[key]

    @staticmethod
    def _parents(records: dict[str, Info], info: Info) -> list[Info]:
        """The committed snapshots below ``info``, nearest first."""
        chain = []
        while info.parent is not None:
            info = records[info.parent]
            chain.append(info)
        return chain

    def _emit(self, topic: str, payload: dict[str, Any]) -> None:
        if self._publish is not None:
            self._publish(topic, payload)
