"""Every notebook of the course follows notebooks/TEMPLATE.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
COURSE = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
SECTIONS = ("## Learning objectives", "## Prerequisites and time", "## Tier", "## Exercise", "## Summary", "## What's next")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _text(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.stem)
def test_notebook_follows_the_template(path: Path) -> None:
    cells = _cells(path)
    markdown = [_text(c) for c in cells if c["cell_type"] == "markdown"]
    code = [_text(c) for c in cells if c["cell_type"] == "code"]
    number = path.name[:2]
    assert re.match(rf"# {number} · \S", markdown[0]), "the first cell is the title '# NN · Title'"
    assert "[Index](index.ipynb)" in markdown[0], "the title cell has the navigation line"
    positions = []
    for section in SECTIONS:
        found = [i for i, text in enumerate(markdown) if text.startswith(section)]
        assert found, f"missing section {section!r}"
        positions.append(found[0])
    assert positions == sorted(positions), "sections are in the template's order"
    assert any("%load_ext labkit.lab.notebook" in c for c in code), "the magic for tier checks is loaded"
    assert any("labkit.check." in c for c in code), "the exercise is checked by labkit.check"
    assert list(NOTEBOOKS.glob(f"solutions/{number}-*.py")), "a worked solution lives in notebooks/solutions/"


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.stem)
def test_navigation_links_point_at_real_notebooks(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] == "markdown":
            for target in re.findall(r"\]\(([^)#]+\.ipynb)\)", _text(cell)):
                assert (NOTEBOOKS / target).exists(), f"link to missing notebook {target}"


def test_index_lists_every_notebook() -> None:
    index = "".join(_text(c) for c in _cells(NOTEBOOKS / "index.ipynb"))
    for path in COURSE:
        assert f"({path.name})" in index, f"the index does not list {path.name}"
