"""Notebook 00's exercise check: the worked solution passes, each wrong order gets its own hint."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from labkit.check.bigpicture import call_chain

SOLUTION = Path(__file__).resolve().parents[2] / "notebooks" / "solutions" / "00-call-chain.py"


def test_the_worked_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert call_chain(runpy.run_path(str(SOLUTION))["answer"])
    assert capsys.readouterr().out.startswith("✔")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (["kubelet", "containerd", "runc", "shim", "container"], "place 3 should be 'shim'"),
        (["kubelet", "dockerd", "shim", "runc", "container"], "'dockerd' is not one of the parts"),
        (["containerd", "kubelet", "shim", "runc", "container"], "Kubernetes' node agent"),
        (["kubelet", "containerd", "shim", "runc"], "has 5 parts"),
    ],
)
def test_wrong_orders_get_a_specific_hint(answer: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert not call_chain(answer)
    out = capsys.readouterr().out
    assert out.startswith("✘ Not yet:") and words in out
