"""Notebook 12's check: the filters that let through an image's pull and unpacking on containerd."""

from __future__ import annotations

import pytest

from labkit.check import containerd


def test_the_worked_answer_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert containerd.unpack_filters(['topic~="^/images/"', 'topic~="^/snapshot/",event.key~="^extract-"'])
    assert capsys.readouterr().out.startswith("✔ ")


@pytest.mark.parametrize(("answer", "hint"), [
    ([], "the container's own snapshot (key ex12) gets through"),
    ('topic~="^/images/"', "the unpacking's /snapshot/prepare must get through"),
    (['topic=="/images/create"', 'event.key~="^extract-"'], "/images/delete is an image event too"),
    (['topic~="^/images/"', 'event.key~="extract-"'], "anchor it with ^"),
    (['topic~="^/images/"', 'topic~="^/snapshot/"'], "the container's own snapshot (key ex12) gets through"),
    ("topic==", "containerd would refuse that filter"),
])
def test_wrong_answers_get_a_specific_hint(answer: str | list[str], hint: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert not containerd.unpack_filters(answer)
    out = capsys.readouterr().out
    assert out.startswith("✘ Not yet: ") and hint in out
