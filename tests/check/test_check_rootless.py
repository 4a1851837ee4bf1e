"""The notebook 14 check: translating ids through a uid_map, with a hint for each usual mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.check import rootless

SOLUTION = Path(__file__).resolve().parents[2] / "notebooks" / "solutions" / "14-to-host.py"


def test_the_worked_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    scope: dict = {}
    exec(SOLUTION.read_text(), scope)
    assert rootless.to_host(scope["to_host"]) is True
    assert capsys.readouterr().out.startswith("✔")


def _first_line(uid_map: str, uid: int) -> int | None:
    inside, outside, count = (int(n) for n in uid_map.split()[:3])
    return outside + uid - inside if inside <= uid < inside + count else None


@pytest.mark.parametrize(("answer", "hint"), [
    (lambda m, uid: _first_line(m, uid), "read every line"),
    (lambda m, uid: next((int(o) + uid - int(i) for i, o, n in (line.split() for line in m.splitlines())
                          if int(i) <= uid <= int(i) + int(n)), None), "inside+count-1"),  # one past the end
    (lambda m, uid: next((int(o) + uid - int(i) for i, o, n in (line.split() for line in m.splitlines())
                          if int(i) <= uid < int(i) + int(n)), 65534), "return None"),     # the overflow id
    (lambda m, uid: 1 / 0, "raised ZeroDivisionError"),
])
def test_a_wrong_answer_gets_its_hint(answer, hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert rootless.to_host(answer) is False
    out = capsys.readouterr().out
    assert out.startswith("✘") and hint in out
