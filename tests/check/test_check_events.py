"""Notebook 08's exercise check: the right filter passes, each wrong one gets its own hint."""

from __future__ import annotations

import pytest

from labkit.check.events import init_exit_filter

RIGHT = 'topic=="/tasks/exit",event.container_id==ex08,event.id==ex08'


def test_the_right_answer_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert init_exit_filter(RIGHT) and init_exit_filter([RIGHT])
    assert capsys.readouterr().out.startswith("✔")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("topic==/tasks/exit", "must be double-quoted"),
        ("event.container_id==ex08", "exec'd process"),
        ('topic~="exit|delete",event.container_id==ex08,event.id==ex08', "/tasks/delete"),
        ('topic=="/tasks/exit",event.id~=ex08', "ex08-b"),
        (['topic=="/tasks/exit",event.id==ex08', 'topic=="/tasks/start"'], "/tasks/start"),
        ('topic=="/tasks/exit",event.id==ex09', "must match"),
    ],
)
def test_wrong_answers_get_a_specific_hint(answer: str | list[str], words: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert not init_exit_filter(answer)
    out = capsys.readouterr().out
    assert out.startswith("✘ Not yet:") and words in out
