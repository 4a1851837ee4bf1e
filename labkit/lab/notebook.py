"""The ``%%needs TIER`` cell magic: run a cell only where the host allows it.

A notebook cell that needs root (cgroups, networking) or user namespaces starts with
``%%needs full`` or ``%%needs rootless``. On a host of that tier or better the cell
runs as if the line were not there; on a lesser host it is skipped and says so, and
why, and what would let it run — it never pretends to have run (design.md, "Tiers").
Load it with ``%load_ext labkit.lab.notebook``.
"""

from __future__ import annotations

from typing import Any

from .doctor import TIERS, tier

__all__ = ["needs", "load_ipython_extension"]

_WHY = {
    "full": "it needs root on Linux (cgroups, mounts, networking)",
    "rootless": "it needs user namespaces (rootless containers)",
}


def needs(line: str, cell: str) -> None:
    """Run ``cell`` if this host's tier is at least ``line``; otherwise explain the skip."""
    from IPython import get_ipython

    wanted = line.strip()
    if wanted not in TIERS:
        raise ValueError(f"%%needs takes one of {', '.join(TIERS)}, not {wanted!r}")
    host = tier()
    if TIERS.index(host) < TIERS.index(wanted):
        print(f"⏭ Skipped on this host: {_WHY[wanted]}, and this host is in the {host!r} tier. "
              "Run `labkit doctor` to see why, or run the lab as root to see this cell work.")
        return
    get_ipython().run_cell(cell).raise_error()


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(needs, "cell")
