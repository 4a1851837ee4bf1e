"""The side-by-side widget follows two streams and shows where their topics differ."""

from __future__ import annotations

from pathlib import Path

from labkit.events import Exchange
from labkit.widgets.sidebyside import SideBySide


def test_two_streams_row_against_row(tmp_path: Path) -> None:
    left, right = Exchange(tmp_path / "left"), Exchange(tmp_path / "right")
    view = SideBySide(("containerd", left.subscribe()), ("labkit", right.subscribe()))
    try:
        for exchange in (left, right):
            exchange.publish("/containers/create", {"id": "c", "image": "i", "runtime": {"name": "runc"}})
        left.publish("/tasks/start", {"container_id": "c", "pid": 1})
        right.publish("/tasks/paused", {"container_id": "c"})
        assert view.wait(2, timeout=5)
    finally:
        view.stop()
    assert view.topics == {"containerd": ["/containers/create", "/tasks/start"],
                           "labkit": ["/containers/create", "/tasks/paused"]}
    assert view.text().splitlines() == [
        " #  containerd            labkit",
        " 1  /containers/create    /containers/create",
        " 2≠ /tasks/start          /tasks/paused",
    ]
    assert "/tasks/start c" in view.value and "background: #fde68a" in view.value
    assert repr(view) == "SideBySide(containerd | labkit)"
