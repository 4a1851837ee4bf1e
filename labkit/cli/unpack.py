"""``labkit unpack [pull options] REF DIR``: pull an image and lay its root filesystem out in DIR.

This is the native rule set with no snapshotter around it: every layer, base first,
applied straight into DIR (``labkit.snapshots.apply_layers``), each checked against
its DiffID — what ``umoci unpack`` makes of the same image, which the tests compare.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..snapshots import apply_layers, chain_ids
from .images import add_pull_options, pull_image

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("unpack", help="pull an image and unpack its layers into a directory")
    add_pull_options(parser)
    parser.add_argument("dir", metavar="DIR", type=Path, help="an empty or new directory for the root filesystem")
    parser.set_defaults(func=_unpack)


def _unpack(args: argparse.Namespace) -> int:
    image = pull_image(args)
    apply_layers(image, args.dir)
    top = chain_ids(image.config["rootfs"]["diff_ids"])[-1]
    print(f"unpacked {len(image.layers)} layers of {image.name} into {args.dir}: {top}")
    return 0
