"""labkit.check.metrics: the worked solution passes, and typical mistakes get their own hint."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from labkit.check import metrics as check

SOLUTION = Path(__file__).parents[2] / "notebooks/solutions/10-usage-percent.py"


def test_the_worked_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert check.usage_percent(runpy.run_path(str(SOLUTION))["usage_percent"])
    assert capsys.readouterr().out.startswith("✔")


@pytest.mark.parametrize(("answer", "words"), [
    (lambda text, cid: 50.0, "pick each task's samples by their container_id"),
    (lambda text, cid: 93.75, "peak"),
    (lambda text, cid: 1 / 0, "raised ZeroDivisionError"),
])
def test_wrong_answers_get_a_specific_hint(answer, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert not check.usage_percent(answer)
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out


def test_an_infinite_limit_must_give_none(capsys: pytest.CaptureFixture[str]) -> None:
    solution = runpy.run_path(str(SOLUTION))["usage_percent"]
    assert not check.usage_percent(lambda text, cid: solution(text, cid) if cid != "free" else 0.0)
    assert "+Inf" in capsys.readouterr().out
