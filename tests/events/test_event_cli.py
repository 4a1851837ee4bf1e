"""``labkit events``: follows the journal from another process and prints like ``ctr events``."""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labkit.events import TASK_PAUSED, Exchange

CTR_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? \+0000 UTC default /tasks/paused \{.*\}")


@contextmanager
def following(*args: str) -> Iterator[subprocess.Popen[str]]:
    """Run ``labkit events ARGS`` and return once it is subscribed (it has printed a probe)."""
    proc = subprocess.Popen([sys.executable, "-m", "labkit", "events", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not select.select([proc.stdout], [], [], 0.05)[0]:
            Exchange().publish(TASK_PAUSED, {"container_id": "probe"})
        while select.select([proc.stdout], [], [], 0.2)[0]:  # drain the probes
            proc.stdout.readline()
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_events_prints_ctr_lines_and_filters(lab_root: Path) -> None:
    with following("event.container_id==web", "event.container_id==probe") as proc:
        Exchange().publish(TASK_PAUSED, {"container_id": "db"})
        published = Exchange().publish(TASK_PAUSED, {"container_id": "web"})
        line = proc.stdout.readline().rstrip("\n")
    assert CTR_LINE.fullmatch(line)
    assert line == published.ctr_line()


def test_events_json_prints_one_envelope_per_line(lab_root: Path) -> None:
    with following("--json") as proc:
        published = Exchange().publish(TASK_PAUSED, {"container_id": "web"})
        record = json.loads(proc.stdout.readline())
    assert record == json.loads(published.to_json())
    assert set(record) == {"timestamp", "namespace", "topic", "event"}


def test_a_bad_filter_is_one_clear_line(lab_root: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "labkit", "events", "topic==/tasks/exit"],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("labkit: bad filter 'topic==/tasks/exit' at position 7")
    assert len(result.stderr.splitlines()) == 1
