"""A small disk to fill: a tmpfs mounted at a directory the test owns, for ENOSPC on a real kernel.

``mounted`` (the ``small_disk`` fixture of tests/conftest.py; the test must be marked
``root``) mounts a tmpfs of a few MiB and ``INODES`` files and unmounts it afterwards. ``fill`` takes its free
space down to ``leave`` bytes with one file, which the test removes to make room again.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["mounted", "fill", "SIZE", "INODES"]

SIZE = 8 << 20  # bytes: enough for a lab root's small files, small enough to fill in a moment
INODES = 2000  # files and directories: a layer of more runs out of them


@contextlib.contextmanager
def mounted(directory: Path) -> Iterator[Path]:
    """A tmpfs of ``SIZE`` bytes and ``INODES`` files at ``directory``, unmounted (with all on it) afterwards."""
    directory.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE},nr_inodes={INODES},mode=0755", "labkit-test-disk",
                    str(directory)], check=True)  # fmt: skip
    try:
        yield directory
    finally:
        subprocess.run(["umount", "--lazy", str(directory)], check=True)


def fill(disk: Path, leave: int) -> Path:
    """Write a file that leaves ``leave`` bytes free on ``disk``; its path."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize - (filler.stat().st_size if filler.exists() else 0)
    with open(filler, "wb") as file:
        file.truncate(0)
        remaining = max(0, free - leave)
        while remaining:
            remaining -= file.write(b"\0" * min(remaining, 1 << 20))
    return filler
