"""The journal on a full disk, and after a writer killed mid-line: appends are whole or absent, readers go on.

A ``labkit events`` follower (its own process) and ``replay()`` must outlive an append
that failed for want of space, and the journal must hold no torn line afterwards
(labkit/events/journal.py: "An append is all or nothing").
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from diskfull import fill

from labkit.errors import FailedPrecondition
from labkit.events import Exchange


@pytest.fixture
def follower(small_disk: Path) -> Iterator[tuple[Exchange, queue.Queue[str], subprocess.Popen[str]]]:
    """An exchange on the small disk, and a ``labkit events`` process following it (its lines in a queue)."""
    root = small_disk / "lab"
    exchange = Exchange(root)
    exchange.publish("/test/before", {"n": 0})
    child = subprocess.Popen([sys.executable, "-m", "labkit", "events"], env={**os.environ, "LABKIT_ROOT": str(root)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stdout or ()], daemon=True).start()
    deadline = time.monotonic() + 20
    while lines.empty() and time.monotonic() < deadline:  # until it follows: it prints what comes after its start
        exchange.publish("/test/ping", {})
        time.sleep(0.05)
    assert not lines.empty(), "labkit events never printed anything"
    yield exchange, lines, child
    child.terminate()
    child.wait(timeout=10)


def _next_topic(lines: queue.Queue[str], topic: str) -> str:
    """The first line the follower prints for ``topic`` (within a deadline)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if f" {topic} " in line:
            return line
    raise AssertionError(f"the follower printed no {topic}")


@pytest.mark.root
def test_a_full_disk_fails_one_append_and_nothing_else(follower: tuple[Exchange, queue.Queue[str], subprocess.Popen[str]],
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
    assert '"n":1' in _next_topic(lines, "/test/after").replace(" ", "")
    assert child.poll() is None and child.stderr is not None
    assert [e.topic for e in exchange.replay() if e.topic != "/test/ping"] == ["/test/before", "/test/after"]


@pytest.mark.root
def test_a_line_torn_by_a_killed_writer_is_cut_away_by_the_next_append(
    follower: tuple[Exchange, queue.Queue[str], subprocess.Popen[str]]
) -> None:
    exchange, lines, child = follower
    journal = exchange.journal.path
    with open(journal, "ab") as file:  # what a writer killed in the middle of its write leaves
        file.write(b'{"timestamp": "2017-12-0')
    with pytest.warns(RuntimeWarning, match="cut away a torn last line"):
        exchange.publish("/test/after", {"n": 2})
    assert '"n":2' in _next_topic(lines, "/test/after").replace(" ", "")
    assert child.poll() is None
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
