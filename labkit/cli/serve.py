"""``labkit serve [--address SOCKET]``: labkit behind containerd's gRPC API on a unix socket.

While it runs, containerd's own client works against labkit::

    labkit serve &                                  # listens on <lab root>/labkit.sock
    ctr --address /var/lib/labkit/labkit.sock events
    ctr --address /var/lib/labkit/labkit.sock containers ls
    ctr --address /var/lib/labkit/labkit.sock tasks ls

It prints the address it listens on, then serves until Ctrl-C or SIGTERM
(``labkit.api.server``).
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serve", help="serve containerd's gRPC API (events, containers, tasks) for ctr")
    parser.add_argument("--address", type=Path, help="the unix socket to listen on (default: <lab root>/labkit.sock)")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ..api.server import default_address, serve  # here: grpc and containerd's stubs load with it

    address = args.address or default_address(args.root)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = serve(address, args.root)
    print(f"labkit: serving containerd's API on unix://{address}", flush=True)
    try:
        stop.wait()
    finally:
        server.stop(grace=1.0).wait()
        address.unlink(missing_ok=True)
    return 0
