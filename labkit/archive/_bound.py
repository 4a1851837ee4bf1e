"""How far one layer may expand: a bound that stops a decompression bomb before it fills the disk.

A layer is compressed, and nothing in a tar says how much it will write until it has
written it: a 1 MiB gzip of zeros is a gigabyte of tar, and a 10 KiB tar can declare a
sparse file of a terabyte, which an extractor writes out in full. Neither containerd nor
Docker bounds this (a registry is trusted there); a lab on a learner's laptop, whose root
is on ``/``, must. So a layer may write at most

- ``EXPANSION_RATIO`` times its compressed size (but always ``EXPANSION_FLOOR``): real
  layers expand 2 to 10 times, gzip cannot pass about 1000; and
- what the target's filesystem has free, less a reserve of ``RESERVE`` of its size that
  the lab leaves to everything else on the machine.

Both the uncompressed tar stream and the file sizes the entries declare are held to the
bound, so a large file is refused by its header, before a byte of it is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import FailedPrecondition, InvalidArgument

__all__ = ["Bound", "EXPANSION_RATIO", "EXPANSION_FLOOR", "RESERVE"]

EXPANSION_RATIO = 100
EXPANSION_FLOOR = 64 << 20  # bytes: a small layer may always expand this far
RESERVE = 0.05  # of the target filesystem's size, left free


class Bound:
    """The bytes one layer may still write, measured once, at the start, from its blob and its target."""

    def __init__(self, layer: str, compressed: int, target: Path) -> None:
        self.layer = layer
        self.by_ratio = max(EXPANSION_RATIO * compressed, EXPANSION_FLOOR)
        fs = os.statvfs(target)
        self.by_disk = max(0, (fs.f_bavail - int(RESERVE * fs.f_blocks)) * fs.f_frsize)
        self.target = target

    def check(self, size: int, what: str) -> None:
        """Refuse ``size`` bytes of ``what`` (the tar stream, or the files written) if they pass the bound."""
        if size > self.by_ratio and self.by_ratio <= self.by_disk:
            raise InvalidArgument(
                f"layer {self.layer} expands past {self.by_ratio} bytes of {what}, {EXPANSION_RATIO} times its "
                "compressed size: refused as a decompression bomb"
            )
        if size > self.by_disk:
            raise FailedPrecondition(
                f"layer {self.layer} needs more than the {self.by_disk} bytes free on the filesystem of "
                f"{self.target} (the lab leaves {RESERVE:.0%} of it free): refused"
            )
