"""The ``labkit`` command, shaped like containerd's ``ctr`` (design.md, "Command line").

Each module in this package adds one group of sub-commands through its
``register(subparsers)`` function; ``COMMANDS`` says which module holds which command.
``main`` builds the parser of the chosen command only (all of them for ``--help`` or a
mistyped command), parses the arguments and calls it. Every command starts a Python,
and start-up is part of every command's cost (the lifecycle bench measures it), so the
command first offers itself to the lab's fork server (:mod:`.forkserver`), a resident
labkit with everything imported that forks a copy of itself to run it; without one it
runs here. For the same reason this module imports argparse only once it is needed,
and a command module imports the labkit module it drives inside its handler.

Every failure a user can cause ends as one line on stderr and a non-zero exit:
a ``LabkitError`` is printed as ``labkit: <message>``, never as a traceback.
"""

from __future__ import annotations

import os
import sys

from ..errors import LabkitError
from . import forkserver

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~9 ms); type checkers read it as True
if TYPE_CHECKING:
    import argparse

__all__ = ["main", "build_parser"]


#: command -> the module of ``labkit.cli`` that defines it
COMMANDS = {
    "pull": "images", "images": "images", "unpack": "unpack",
    "run": "run", "containers": "containers", "tasks": "tasks", "events": "events",
    "metrics": "metrics", "serve": "serve", "containerd": "containerd", "bench": "bench",
    "lab": "lab", "doctor": "lab",
}
_parsers: dict[str | None, argparse.ArgumentParser] = {}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: global options plus ``command``'s sub-commands (every command's if unknown).

    Built once per command and kept: the fork server builds them all before it forks.
    """
    import argparse
    import importlib
    from pathlib import Path

    key = command if command in COMMANDS else None
    if key in _parsers:
        return _parsers[key]
    parser = argparse.ArgumentParser(prog="labkit", description="Runtime Lab: a miniature containerd.")
    parser.add_argument("--root", type=Path, help="the lab's state directory (default: $LABKIT_ROOT or /var/lib/labkit)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [COMMANDS[key]] if key is not None else dict.fromkeys(COMMANDS.values())
    for module in modules:
        importlib.import_module(f"{__name__}.{module}").register(subparsers)
    _parsers[key] = parser
    return parser


def _command_word(argv: list[str]) -> str | None:
    """The first word after the global options: which command to build a parser for."""
    _, rest = forkserver.split_root(argv)
    return rest[0] if rest else None


def main(argv: list[str] | None = None) -> int:
    """Run one ``labkit`` command and return its exit status.

    Called as the command itself (no ``argv``: this process's arguments), it runs in the lab's
    fork server if one serves this lab root, and this process exits with the command's status;
    given ``argv`` (the fork server's child, a test), it runs here.
    """
    if argv is None:
        argv = sys.argv[1:]
        served = forkserver.forward(argv)
        if served is not None:  # done; skip the interpreter's clean-up (~3 ms): this process holds nothing of ours
            sys.stderr.flush()
            os._exit(served)
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
