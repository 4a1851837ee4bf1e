"""Notebook 13's checks: the worked answers pass, typical mistakes get their hint."""

from __future__ import annotations

import pytest

from labkit.bench.run import RunResult
from labkit.check.bench import freeze_suite, pause_medians

GOOD = """
drivers: [{type: runc, threads: 1, iterations: 5}, {type: crun, threads: 1, iterations: 5}]
commands: [run, pause, resume, stop, delete]
"""


def test_the_worked_suite_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert freeze_suite(GOOD)
    assert capsys.readouterr().out.startswith("✔")


@pytest.mark.parametrize(("text", "hint"), [
    (GOOD.replace("pause, resume, ", ""), "need pause and resume"),
    (GOOD.replace("resume, ", ""), "labkit bench would refuse it"),
    (GOOD.replace(", delete]", "]"), "end every container with delete"),
    (GOOD.replace("crun", "runc"), "drivers runc and crun"),
    (GOOD.replace("threads: 1, iterations: 5}, {type: crun", "threads: 2, iterations: 5}, {type: crun"), "one thread"),
    (GOOD.replace("iterations: 5}]", "iterations: 3}]"), "at least 5 iterations"),
])
def test_suite_mistakes_get_a_hint(text: str, hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert not freeze_suite(text)
    assert hint in capsys.readouterr().out


RESULTS = [RunResult("runc", 1, 4, ("run", "pause"), durations={"pause": [4.0, 1.0, 30.0, 2.0]}),
           RunResult("crun", 1, 3, ("run", "pause"), durations={"pause": [3.0, 1.0, 2.0]})]


@pytest.mark.parametrize(("answer", "ok", "hint"), [
    ({"runc": 3.0, "crun": 2.0}, True, "✔"),
    ({"runc": 9.25, "crun": 2.0}, False, "runc: that is the mean"),
    ({"runc": 2.0, "crun": 2.0}, False, "runc: 2.000 is not the median"),
    ({"runc": 3.0}, False, "one entry per driver that paused: crun, runc"),
])
def test_pause_medians(answer: dict[str, float], ok: bool, hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert pause_medians(answer, RESULTS) is ok
    assert hint in capsys.readouterr().out
