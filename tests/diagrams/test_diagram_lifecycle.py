"""The lifecycle diagram: one edge per allowed transition, the current state lit."""

from __future__ import annotations

from labkit.diagrams.lifecycle import MOVES, NO_TASK, task_states
from labkit.task import STATUSES, TRANSITIONS


def test_every_allowed_transition_is_an_edge() -> None:
    source = task_states().source
    for verb, sources in TRANSITIONS.items():
        for state in sources:
            assert f"{state} -> {MOVES[verb].replace(' ', '_')} [label={verb}]" in source
    assert "no_task -> created [label=create]" in source
    assert "running -> stopped [label=exit style=dashed]" in source


def test_only_the_current_state_is_lit() -> None:
    for current in (NO_TASK, *STATUSES):
        lit = [line.split()[0] for line in task_states(current).source.splitlines() if "penwidth=2.5" in line]
        assert lit == [current.replace(" ", "_")]
