"""``labkit images pull|ls|rm`` and ``labkit pull``: fetch images and list them, as ``ctr images`` does.

``pull`` prints the digest the reference resolved to (the index or manifest that
``images ls`` shows as DIGEST); progress goes to stderr. Each new blob is published
as ``/content/create`` and the image as ``/images/create`` (or ``/images/update``).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ..events import Exchange
from ..images import Image, ImageStore, pull
from ._shared import print_table

__all__ = ["add_pull_options", "pull_image", "register"]


def add_pull_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that pulls takes (``pull``, ``unpack``, ``run``): design.md, "Command line"."""
    parser.add_argument("--plain-http", action="store_true", help="talk HTTP, not HTTPS, to the registry")
    parser.add_argument("--user", metavar="USER[:PASS]",
                        help="credentials for the registry; give USER alone to be asked for the password (or to "
                             "pipe it on stdin), so that it never shows in a process listing")
    parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                        help="the platform to pick from an index (default: this host's)")
    parser.add_argument("--trust-realm", metavar="HOST", action="append", default=[],
                        help="a token server on another host that may receive the --user credentials (by default "
                             "they go only to the registry's own host)")
    parser.add_argument("ref", metavar="REF", help="image reference, e.g. 127.0.0.1:5000/lab/busybox:latest")


def pull_image(args: argparse.Namespace) -> Image:
    """Pull ``args.ref`` with the options of ``add_pull_options``: a bar on a terminal, events published."""
    return pull(
        args.ref, plain_http=args.plain_http, user=_credentials(args.user), platform=args.platform,
        progress=sys.stderr.isatty(), publish=Exchange(args.root).publish, root=args.root,
        trusted_realms=args.trust_realm,
    )  # fmt: skip


def _credentials(user: str | None) -> str | None:
    """``USER:PASS`` as given; for ``USER`` alone, the password from the terminal or one line of stdin (as ctr asks).

    Any process can read any other's command line (``ps``, ``/proc/PID/cmdline``): a password is safer typed in.
    """
    if user is None or ":" in user:
        return user
    tty = sys.stdin.isatty()
    password = getpass.getpass(f"Password for {user}: ") if tty else sys.stdin.readline().rstrip("\n")
    return f"{user}:{password}"


def _add_pull(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("pull", help="fetch an image into the content store and print its digest")
    add_pull_options(parser)
    parser.set_defaults(func=_pull)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_pull(subparsers)  # `labkit pull`: an alias of `labkit images pull`
    images = subparsers.add_parser("images", help="pull, list and remove images (like `ctr images`)")
    commands = images.add_subparsers(dest="images_command", metavar="COMMAND", required=True)
    _add_pull(commands)
    commands.add_parser("ls", help="list images").set_defaults(func=_ls)
    remove = commands.add_parser("rm", help="remove image records (their blobs stay in the content store)")
    remove.add_argument("names", nargs="+", metavar="REF")
    remove.set_defaults(func=_rm)


def _pull(args: argparse.Namespace) -> int:
    print(pull_image(args).target.digest)
    return 0


def _ls(args: argparse.Namespace) -> int:
    rows = [("REF", "TYPE", "DIGEST", "SIZE", "PLATFORM")]
    for image in ImageStore(args.root).images(on_bad_record=lambda message: print(f"labkit: {message}", file=sys.stderr)):
        platform = f"{image.config.get('os', '?')}/{image.config.get('architecture', '?')}"
        rows.append((image.name, image.target.media_type, image.target.digest, _human(image.size), platform))
    print_table(rows)
    return 0


def _rm(args: argparse.Namespace) -> int:
    store, exchange = ImageStore(args.root), Exchange(args.root)
    for name in args.names:
        store.remove(name, publish=exchange.publish)
        print(name)
    return 0


def _human(size: int) -> str:
    """``1037098`` → ``1.0 MiB``, as ``ctr images ls`` prints sizes."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    raise AssertionError("unreachable")
