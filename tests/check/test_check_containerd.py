"""Notebook 12's check: the filters that let through every event about one container."""

from __future__ import annotations

import pytest

from labkit.check import containerd


def test_the_worked_answer_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert containerd.lifecycle_filters(["event.container_id==ex12", "event.id==ex12", "event.key==ex12"])
    assert capsys.readouterr().out.startswith("✔ ")


@pytest.mark.parametrize(("answer", "hint"), [
    ([], "the image's unpacking gets through too"),
    ('topic~="/tasks/"', "the container's own snapshot must get through"),
    (["event.container_id~=ex12", "event.id~=ex12", "event.key~=ex12"], "~= searches anywhere"),
    (["event.container_id==ex12", "event.key==ex12"], "/containers/create of ex12 must get through"),
    ("topic==", "containerd would refuse that filter"),
])
def test_wrong_answers_get_a_specific_hint(answer: str | list[str], hint: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert not containerd.lifecycle_filters(answer)
    out = capsys.readouterr().out
    assert out.startswith("✘ Not yet: ") and hint in out
