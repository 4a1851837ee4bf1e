"""The ``labkit`` command, shaped like containerd's ``ctr`` (design.md, "Command line").

Each module in this package adds one group of sub-commands through its
``register(subparsers)`` function; ``COMMANDS`` says which module holds which command.
``main`` builds the parser, parses the arguments and calls the chosen command's handler
with them. The global ``--root DIR`` is handed to every handler as ``args.root`` (``None``:
the default root, :func:`labkit.paths.default_root`), and each passes it on, as an argument,
to the labkit objects it uses.

Every failure a user can cause ends as one line on stderr and a non-zero exit:
a ``LabkitError`` is printed as ``labkit: <message>``, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import LabkitError
from . import bench, containerd, containers, events, images, lab, metrics, run, serve, tasks, unpack

__all__ = ["COMMANDS", "build_parser", "main"]

#: command -> the module of ``labkit.cli`` that defines it
COMMANDS = {
    "pull": images, "images": images, "unpack": unpack,
    "run": run, "containers": containers, "tasks": tasks, "events": events,
    "metrics": metrics, "serve": serve, "containerd": containerd, "bench": bench,
    "lab": lab, "doctor": lab,
}  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: the global options, then every command's sub-commands."""
    parser = argparse.ArgumentParser(prog="labkit", description="Runtime Lab: a miniature containerd.")
    parser.add_argument("--root", type=Path, help="the lab's state directory (default: $LABKIT_ROOT or /var/lib/labkit)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in dict.fromkeys(COMMANDS.values()):  # each module once, in the table's order
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``labkit`` command (``argv``, by default this process's arguments) and return its exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        status: int = args.func(args)
        return status
    except LabkitError as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
