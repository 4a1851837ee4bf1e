"""``labkit unpack [pull options] REF DIR``: pull an image and lay its root filesystem out in DIR.

This is the native rule set with no snapshotter around it: every layer, base first,
applied straight into DIR (``labkit.snapshots.apply_layers``), each checked against
its DiffID — what ``umoci unpack`` makes of the same image, which the tests compare.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("unpack", help="pull an image and unpack its layers into a directory")
    parser.add_argument("--plain-http", action="store_true", help="talk HTTP, not HTTPS, to the registry")
    parser.add_argument("--user", metavar="USER:PASS", help="credentials for the registry")
    parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="the platform to pick from an index (default: this host's)")
    parser.add_argument("ref", metavar="REF", help="image reference, e.g. 127.0.0.1:5000/lab/busybox:latest")
    parser.add_argument("dir", metavar="DIR", type=Path, help="an empty or new directory for the root filesystem")
    parser.set_defaults(func=_unpack)


def _unpack(args: argparse.Namespace) -> int:
    from ..events import Exchange
    from ..images import pull
    from ..snapshots import apply_layers, chain_ids

    image = pull(
        args.ref, plain_http=args.plain_http, user=args.user, platform=args.platform,
        progress=sys.stderr.isatty(), publish=Exchange().publish,
    )  # fmt: skip
    apply_layers(image, args.dir)
    top = chain_ids(image.config["rootfs"]["diff_ids"])[-1]
    print(f"unpacked {len(image.layers)} layers of {image.name} into {args.dir}: {top}")
    return 0
