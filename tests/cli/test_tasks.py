"""``labkit tasks kill -s``: signal names and numbers as ``kill(1)`` takes them, ASCII only."""

from __future__ import annotations

import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parsing import parsed_or_refused

from labkit.cli.tasks import parse_signal
from labkit.errors import InvalidArgument


@pytest.mark.parametrize(("text", "number"), [("9", 9), ("KILL", 9), ("sigterm", 15), ("SIGHUP", 1), ("64", 64)])
def test_names_and_numbers(text: str, number: int) -> None:
    assert parse_signal(text) == number


@pytest.mark.parametrize("text", ["0", "65", "99", "\u096f", "\uff19", "K\u0130LL", "SIG", "", "-9", "1" * 5000])
def test_what_is_no_signal_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument, match="unknown signal"):
        parse_signal(text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=12), st.integers(-5, 200).map(str)))
def test_any_text_is_a_signal_the_kernel_knows_or_refused(text: str) -> None:
    if (number := parsed_or_refused(parse_signal, text)) is not None:
        assert text.isascii() and 1 <= number <= signal.SIGRTMAX

