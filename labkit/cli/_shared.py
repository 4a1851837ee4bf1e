"""What several commands share: a table printed as ``ctr`` prints one, and the arguments after ``--``."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["command_args", "print_table"]


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    """Print rows as ``ctr`` does: columns padded to their widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def command_args(args: list[str]) -> list[str]:
    """The program and its arguments as given after ``--`` (argparse's REMAINDER keeps the ``--``)."""
    return args[1:] if args[:1] == ["--"] else args
