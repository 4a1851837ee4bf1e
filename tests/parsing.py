"""The rule every parser of outside input keeps, for property-based tests: an answer, or one line saying why."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from labkit.errors import InvalidArgument

__all__ = ["parsed_or_refused"]

In = TypeVar("In")
Out = TypeVar("Out")


def parsed_or_refused(parse: Callable[[In], Out], value: In) -> Out | None:
    """``parse(value)``, or None when it refused with an InvalidArgument of one line; anything else fails the test."""
    try:
        return parse(value)
    except InvalidArgument as err:
        assert "\n" not in str(err), f"a message of several lines: {err}"
        return None
