"""The journal on a full disk, and after a writer killed mid-line: appends are whole or absent, readers go on.

A ``labkit events`` follower (its own process) and ``replay()`` must outlive an append
that failed for want of space, and the journal must hold no torn line afterwards
(labkit/events/journal.py: "An append is all or nothing").
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from diskfull import fill
from waiting import Lines, line_probe, oom_probe, subscribed

from labkit.errors import FailedPrecondition
from labkit.events import Exchange


@pytest.fixture
def follower(small_disk: Path) -> Iterator[tuple[Exchange, Lines, subprocess.Popen[str]]]:
    """An exchange on the small disk, and a ``labkit events`` process that demonstrably follows it."""
    root = small_disk / "lab"
    exchange = Exchange(root)
    exchange.publish("/test/before", {"n": 0})
    child = subprocess.Popen([sys.executable, "-m", "labkit", "events"], env={**os.environ, "LABKIT_ROOT": str(root)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout is not None
    lines = Lines(child.stdout)
    subscribed(oom_probe(exchange.publish), line_probe(lines))
    yield exchange, lines, child
    child.terminate()
    child.wait(timeout=10)


def _payload(lines: Lines) -> str:
    """The payload of the next line the follower prints, spaces removed."""
    line = lines.next(10.0)
    assert line is not None, "the follower printed nothing more"
    return line.split(" ", 6)[6].replace(" ", "")


@pytest.mark.root
def test_a_full_disk_fails_one_append_and_nothing_else(follower: tuple[Exchange, Lines, subprocess.Popen[str]],
                                                       small_disk: Path) -> None:
    exchange, lines, child = follower
    journal = exchange.journal.path
    filler = fill(small_disk, leave=0)
    size = journal.stat().st_size
    with pytest.raises(FailedPrecondition, match=f"no space left on the device writing /test/big to the event journal "
                                                 f"{journal}"):  # fmt: skip
        exchange.publish("/test/big", {"data": "x" * 200_000})  # more than any last page of the file holds
    assert journal.stat().st_size == size and journal.read_bytes().endswith(b"\n")
    filler.unlink()
    exchange.publish("/test/after", {"n": 1})
    assert _payload(lines) == '{"n":1}' and child.poll() is None  # the next line: the failed one never was
    assert [e.topic for e in exchange.replay() if e.topic != "/tasks/oom"] == ["/test/before", "/test/after"]


@pytest.mark.root
def test_a_line_torn_by_a_killed_writer_is_cut_away_by_the_next_append(
    follower: tuple[Exchange, Lines, subprocess.Popen[str]]
) -> None:
    exchange, lines, child = follower
    journal = exchange.journal.path
    with open(journal, "ab") as file:  # what a writer killed in the middle of its write leaves
        file.write(b'{"timestamp": "2017-12-0')
    with pytest.warns(RuntimeWarning, match="cut away a torn last line"):
        exchange.publish("/test/after", {"n": 2})
    assert _payload(lines) == '{"n":2}' and child.poll() is None
    assert [e.topic for e in exchange.replay()][-1] == "/test/after"
    assert b"2017-12-0" not in journal.read_bytes()


def test_a_line_that_is_no_envelope_is_skipped_with_a_warning(tmp_path: Path) -> None:
    exchange = Exchange(tmp_path)
    exchange.publish("/test/one", {})
    with open(exchange.journal.path, "ab") as file:
        file.write(b"not json at all\n")
    exchange.publish("/test/two", {})
    with pytest.warns(RuntimeWarning, match="is not an event envelope; skipped"):
        assert [e.topic for e in exchange.replay()] == ["/test/one", "/test/two"]
