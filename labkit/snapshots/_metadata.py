"""The records a snapshotter keeps: one per snapshot, in one JSON file under a lock.

containerd keeps them in a bolt database (``metadata.db``); a JSON file guarded by
``flock(2)`` does the same job for the lab, and a learner can ``cat`` it. Each record
names the snapshot's kind, its parent and the numbered directory that holds its files
(``snapshots/<id>/``): names (ChainIDs, keys) never become paths.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from ..errors import disk_error
from ..timestamps import now, rfc3339

__all__ = ["Kind", "Info", "Records"]

#: containerd's snapshot kinds: active (writable, has a key), view (read-only), committed (a named layer)
Kind = Literal["active", "view", "committed"]


@dataclass(frozen=True)
class Info:
    """What ``Snapshotter.stat`` reports about one snapshot (containerd's ``snapshots.Info``)."""

    name: str
    kind: Kind
    parent: str | None
    created: str
    id: int


class Records:
    """All snapshots of one snapshotter, in ``<dir>/metadata.json``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "metadata.json"

    def read(self) -> dict[str, Info]:
        """The records as they are now (no lock: a reader sees one whole version of the file)."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return {name: Info(**record) for name, record in data["snapshots"].items()}

    @contextmanager
    def transaction(self) -> Iterator[dict[str, Info]]:
        """Lock, read, let the caller change the records, then write them back atomically.

        The new version goes to a temporary file renamed over the old one, so a full disk
        (or a crash) leaves the old records whole, and the error says so.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(self.path.with_suffix(".lock"), "a")  # noqa: SIM115 — closed below, after the write
        except OSError as err:
            raise disk_error(err, f"opening the snapshot records {self.path}") from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = self.read()
            yield records
            tmp = self.path.with_suffix(".tmp")
            try:
                tmp.write_text(json.dumps({"snapshots": {n: asdict(i) for n, i in records.items()}}, indent=1))
                os.replace(tmp, self.path)
            except OSError as err:
                tmp.unlink(missing_ok=True)
                raise disk_error(err, f"writing the snapshot records {self.path}") from None

    @staticmethod
    def new(records: dict[str, Info], name: str, kind: Kind, parent: str | None) -> Info:
        """Add a record with the next free directory number."""
        number = max((info.id for info in records.values()), default=0) + 1
        records[name] = Info(name, kind, parent, rfc3339(now()), number)
        return records[name]
