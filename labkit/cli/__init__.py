"""The ``labkit`` command, shaped like containerd's ``ctr`` (design.md, "Command line").

Each module in this package adds one group of sub-commands through its
``register(subparsers)`` function; ``COMMANDS`` says which module holds which command.
``main`` builds the parser of the chosen command only (all of them for ``--help`` or a
mistyped command), parses the arguments and calls it. A command module imports the
labkit module it drives inside its handler: every command starts a Python, so
start-up is part of every command's cost (the lifecycle bench measures it).

Every failure a user can cause ends as one line on stderr and a non-zero exit:
a ``LabkitError`` is printed as ``labkit: <message>``, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from ..errors import LabkitError

__all__ = ["main", "build_parser"]


#: command -> the module of ``labkit.cli`` that defines it
COMMANDS = {
    "pull": "images", "images": "images", "unpack": "unpack",
    "run": "run", "containers": "containers", "tasks": "tasks", "events": "events",
    "metrics": "metrics", "serve": "serve", "containerd": "containerd", "bench": "bench",
    "lab": "lab", "doctor": "lab",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: global options plus ``command``'s sub-commands (every command's if unknown)."""
    parser = argparse.ArgumentParser(prog="labkit", description="Runtime Lab: a miniature containerd.")
    parser.add_argument("--root", type=Path, help="the lab's state directory (default: $LABKIT_ROOT or /var/lib/labkit)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [COMMANDS[command]] if command in COMMANDS else dict.fromkeys(COMMANDS.values())
    for module in modules:
        importlib.import_module(f"{__name__}.{module}").register(subparsers)
    return parser


def _command_word(argv: list[str]) -> str | None:
    """The first word after the global options: which command to build a parser for."""
    globals_only = argparse.ArgumentParser(add_help=False)
    globals_only.add_argument("--root")
    _, rest = globals_only.parse_known_args(argv)
    return rest[0] if rest else None


def main(argv: list[str] | None = None) -> int:
    """Run one ``labkit`` command and return its exit status."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_command_word(argv)).parse_args(argv)
    if args.root is not None:
        os.environ["LABKIT_ROOT"] = str(args.root)
    try:
        return args.func(args) or 0
    except LabkitError as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
