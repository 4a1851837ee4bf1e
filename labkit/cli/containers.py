"""``labkit containers ls|info|delete``: container records, as ``ctr containers`` shows them.

A container is metadata (id, image, runtime, labels, extensions, spec); whether it
has a running task is the business of ``labkit tasks``.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["register", "print_table"]


def register(subparsers: argparse._SubParsersAction) -> None:
    containers = subparsers.add_parser("containers", help="list, inspect and delete containers (like `ctr containers`)")
    verbs = containers.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("ls", help="list containers").set_defaults(func=_ls)
    info = verbs.add_parser("info", help="print a container's record and spec as JSON")
    info.add_argument("id", metavar="ID")
    info.set_defaults(func=_info)
    delete = verbs.add_parser("delete", help="delete containers (their tasks must be deleted first)")
    delete.add_argument("ids", nargs="+", metavar="ID")
    delete.set_defaults(func=_delete)


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Print rows as ``ctr`` does: columns padded to their widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _ls(args: argparse.Namespace) -> int:
    from ..supervisor import Supervisor

    rows = [("CONTAINER", "IMAGE", "RUNTIME")]
    rows += [(c.id, c.image, c.runtime) for c in Supervisor().containers()]
    print_table(rows)
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..supervisor import Supervisor

    print(json.dumps(Supervisor().container(args.id).info(), indent=4))
    return 0


def _delete(args: argparse.Namespace) -> int:
    from ..supervisor import Supervisor

    sup = Supervisor()
    for id in args.ids:
        sup.container(id).delete()
    return 0
