"""``labkit events [--json] [FILTER...]``: follow the event stream, as ``ctr events`` does.

Each event is one line, ``TIMESTAMP NAMESPACE TOPIC {payload}`` in ``ctr``'s format,
or with ``--json`` one envelope object. Several filters match when any one does
(containerd's filter syntax, ``labkit.events.filters``). Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..events import Exchange

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("events", help="follow and print events (like `ctr events`)")
    parser.add_argument("--json", action="store_true", help="print one envelope object per line")
    parser.add_argument("filters", nargs="*", metavar="FILTER", help='e.g. topic=="/tasks/exit"')
    parser.set_defaults(func=_events)


def _events(args: argparse.Namespace) -> int:
    with Exchange(args.root).subscribe(*args.filters) as subscription:
        try:
            for envelope in subscription:
                print(envelope.to_json() if args.json else envelope.ctr_line(), flush=True)
        except BrokenPipeError:  # `labkit events | head -3`: the reader has gone, stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
