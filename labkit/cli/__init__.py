"""The ``labkit`` command, shaped like containerd's ``ctr`` (design.md, "Command line").

Each module in this package adds one group of sub-commands through its
``register(subparsers)`` function; ``main`` finds them all, parses the arguments and
calls the chosen command. A command module imports the labkit module it drives
inside its handler, so that ``labkit --help`` and quick commands start fast.

Every failure a user can cause ends as one line on stderr and a non-zero exit:
a ``LabkitError`` is printed as ``labkit: <message>``, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path

from ..errors import LabkitError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser: global options plus every module's sub-commands."""
    parser = argparse.ArgumentParser(prog="labkit", description="Runtime Lab: a miniature containerd.")
    parser.add_argument("--root", type=Path, help="the lab's state directory (default: $LABKIT_ROOT or /var/lib/labkit)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``labkit`` command and return its exit status."""
    args = build_parser().parse_args(argv)
    if args.root is not None:
        os.environ["LABKIT_ROOT"] = str(args.root)
    try:
        return args.func(args) or 0
    except LabkitError as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
