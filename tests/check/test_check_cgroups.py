"""Notebook 03's check: a group with the right limits and a process passes; each mistake gets its hint."""

from __future__ import annotations

import os

import pytest

from labkit import cgroups, ns
from labkit.check import cgroups as check

pytestmark = pytest.mark.root


def sleep() -> None:
    os.execvp("sleep", ["sleep", "60"])


def test_the_worked_answer_passes(capsys: pytest.CaptureFixture[str]) -> None:
    with cgroups.create("ex03", memory=64 << 20, pids=16) as group, ns.spawn(sleep, setup=group.add):
        assert check.limited(group)
    assert capsys.readouterr().out.startswith("✔ ")


@pytest.mark.parametrize(("limits", "hint"), [
    ({"memory": 64_000_000, "pids": 16}, "not 64 000 000"),
    ({"memory": 32 << 20, "pids": 16}, "set memory=64 << 20"),
    ({"memory": 64 << 20}, "set pids=16"),
    ({"memory": 64 << 20, "pids": 16}, "no process is in the group"),
])
def test_wrong_answers_get_a_specific_hint(limits: dict, hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    with cgroups.create("ex03", **limits) as group:
        assert not check.limited(group)
    out = capsys.readouterr().out
    assert out.startswith("✘ Not yet: ") and hint in out
    assert not check.limited(group)
    assert "does not exist" in capsys.readouterr().out
