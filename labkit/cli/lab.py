"""``labkit lab up|down|status|clean`` and ``labkit doctor``: the lab environment.

``lab up`` starts the lab's two daemons — the registry, seeded with the lab's images, and
the fork server that runs every later ``labkit`` command warm (:mod:`.forkserver`) — and is
safe to run again: it restarts the fork server with the code of this checkout.
"""

from __future__ import annotations

import argparse

from ..paths import default_root
from . import forkserver

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    lab = subparsers.add_parser("lab", help="start, stop, inspect or clean the lab environment")
    verbs = lab.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("up", help="start the local registry (seeded with the lab's images) and the fork server"
                     ).set_defaults(func=up)
    verbs.add_parser("down", help="stop the local registry and the fork server").set_defaults(func=down)
    verbs.add_parser("status", help="what runs, and which images the registry serves").set_defaults(func=status)
    verbs.add_parser("clean", help="remove every container, mount, cgroup and network object the lab made"
                     ).set_defaults(func=clean)
    subparsers.add_parser("doctor", help="check this host and report its tier (full, rootless, inspect)"
                          ).set_defaults(func=doctor)


def up(args: argparse.Namespace) -> int:
    from ..lab import registry, seed

    running = registry.start()
    print(running)
    for image, digest in seed.seed(running.address):
        print(f"seeded {running.address}/{image.repository}:{image.tag}  {digest}  ({image.summary})")
    forkserver.start(default_root())
    print(_forkserver_status())
    return 0


def down(args: argparse.Namespace) -> int:
    from ..lab import registry

    registry.stop()
    print(registry.status())
    forkserver.stop(default_root())
    print(_forkserver_status())
    return 0


def _forkserver_status() -> str:
    root = default_root()
    pid = forkserver.status(root)
    if pid is None:
        return "fork server: not running (labkit commands start a Python each)"
    return f"fork server: serving labkit commands at {root / forkserver.SOCKET} (pid {pid})"


def status(args: argparse.Namespace) -> int:
    from ..lab import registry

    current = registry.status()
    print(current)
    print(_forkserver_status())
    if current.serving:
        for repository, tags in sorted(registry.catalog(current.address).items()):
            print(f"  {repository}: {', '.join(tags)}")
    return 0


def clean(args: argparse.Namespace) -> int:
    from ..lab import clean as cleaner

    for line in cleaner.clean():
        print(line)
    return 0


def doctor(args: argparse.Namespace) -> int:
    from ..lab import doctor as doc

    report = doc.diagnose()
    print(report)
    return 0
