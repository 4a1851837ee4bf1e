"""``labkit containerd start|stop|status``: the lab's private containerd, from a terminal.

The daemon runs under ``<lab root>/containerd/`` (``labkit.lab.containerd``); drive it
with containerd's own client on the socket that ``start`` and ``status`` print::

    labkit containerd start
    ctr --address /var/lib/labkit/containerd/containerd.sock images pull --plain-http ...
    labkit containerd stop        # removes the containers left behind, then stops it
"""

from __future__ import annotations

import argparse

from ..lab.containerd import Containerd

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("containerd", help="start, stop or inspect the lab's private containerd")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("start", help="start it under <lab root>/containerd and print its socket").set_defaults(func=_start)
    verbs.add_parser("stop", help="remove its containers and stop it").set_defaults(func=_stop)
    verbs.add_parser("status", help="print its pid and socket, or that it is stopped").set_defaults(func=_status)


def _start(args: argparse.Namespace) -> int:
    print(Containerd(args.root).start().address)
    return 0


def _stop(args: argparse.Namespace) -> int:
    Containerd(args.root).stop()
    return 0


def _status(args: argparse.Namespace) -> int:
    containerd = Containerd(args.root)
    if containerd.pid is None:
        print("stopped")
        return 3  # as `systemctl status` does for a unit that is not running
    print(f"running: pid {containerd.pid}, socket {containerd.address}")
    return 0
