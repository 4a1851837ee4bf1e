"""``labkit lab up|down|status|clean`` and ``labkit doctor``: the lab environment.

``lab up`` starts the lab's one daemon, its registry, and seeds it with the lab's images;
it is safe to run again (a registry that already serves is only seeded). Nothing else of
labkit stays resident: every other command is a process of its own that exits when done.
"""

from __future__ import annotations

import argparse

from ..lab import clean as cleaner
from ..lab import doctor as doc

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = subparsers.add_parser("lab", help="start, stop, inspect or clean the lab environment")
    verbs = lab.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("up", help="start the local registry, seeded with the lab's images").set_defaults(func=up)
    verbs.add_parser("down", help="stop the local registry").set_defaults(func=down)
    verbs.add_parser("status", help="whether the registry runs, and which images it serves").set_defaults(func=status)
    verbs.add_parser("clean", help="remove every container, mount, cgroup and network object the lab made"
                     ).set_defaults(func=clean)
    subparsers.add_parser("doctor", help="check this host and report its tier (full, rootless, inspect)"
                          ).set_defaults(func=doctor)


def up(args: argparse.Namespace) -> int:
    from ..lab import registry, seed  # here: httpx, which `labkit doctor` must not need (it runs before set-up)

    running = registry.start(args.root)
    print(running)
    for image, digest in seed.seed(running.address):
        print(f"seeded {running.address}/{image.repository}:{image.tag}  {digest}  ({image.summary})")
    return 0


def down(args: argparse.Namespace) -> int:
    from ..lab import registry  # here: httpx (see up)

    registry.stop(args.root)
    print(registry.status(args.root))
    return 0


def status(args: argparse.Namespace) -> int:
    from ..lab import registry  # here: httpx (see up)

    current = registry.status(args.root)
    print(current)
    if current.serving:
        for repository, tags in sorted(registry.catalog(current.address).items()):
            print(f"  {repository}: {', '.join(tags)}")
    return 0


def clean(args: argparse.Namespace) -> int:
    for line in cleaner.clean(args.root):
        print(line)
    return 0


def doctor(args: argparse.Namespace) -> int:
    print(doc.diagnose())
    return 0
