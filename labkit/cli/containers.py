"""``labkit containers ls|info|delete``: container records, as ``ctr containers`` shows them.

A container is metadata (id, image, runtime, labels, extensions, spec); whether it
has a running task is the business of ``labkit tasks``.
"""

from __future__ import annotations

import argparse
import json

from ..supervisor import Supervisor
from ._shared import print_table

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    containers = subparsers.add_parser("containers", help="list, inspect and delete containers (like `ctr containers`)")
    verbs = containers.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("ls", help="list containers").set_defaults(func=_ls)
    info = verbs.add_parser("info", help="print a container's record and spec as JSON")
    info.add_argument("id", metavar="ID")
    info.set_defaults(func=_info)
    delete = verbs.add_parser("delete", help="delete containers (their tasks must be deleted first)")
    delete.add_argument("ids", nargs="+", metavar="ID")
    delete.set_defaults(func=_delete)


def _ls(args: argparse.Namespace) -> int:
    rows = [("CONTAINER", "IMAGE", "RUNTIME")]
    rows += [(c.id, c.image, c.runtime) for c in Supervisor(args.root).containers()]
    print_table(rows)
    return 0


def _info(args: argparse.Namespace) -> int:
    print(json.dumps(Supervisor(args.root).container(args.id).info(), indent=4))
    return 0


def _delete(args: argparse.Namespace) -> int:
    supervisor = Supervisor(args.root)
    for container_id in args.ids:
        supervisor.container(container_id).delete()
    return 0
