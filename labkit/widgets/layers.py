"""A layer browser: which layer added, changed or deleted each path of an image (notebook 06).

The history is read from the layer tars themselves, base first, with the whiteout rules
of the OCI image spec (layer.md, "Whiteouts"): an entry for a path that a lower layer
made *changes* it, any other entry *adds* it, ``.wh.NAME`` *deletes* NAME and all below
it, and ``.wh..wh..opq`` deletes what lower layers put in its directory.
"""

from __future__ import annotations

import html
import posixpath
import tarfile
from dataclasses import dataclass
from typing import Any, Literal

import ipywidgets as widgets

from ..archive import OPAQUE, WHITEOUT_PREFIX, open_layer

__all__ = ["Change", "layer_changes", "history", "LayerBrowser"]

Kind = Literal["added", "changed", "deleted"]
_MARKS = {"added": "+", "changed": "~", "deleted": "−"}


@dataclass(frozen=True)
class Change:
    """What layer ``layer`` (0 = base) did to ``path``."""

    layer: int
    path: str
    kind: Kind


def _clean(name: str) -> str:
    return posixpath.normpath("/" + name.lstrip("/")).lstrip("/")


def _under(paths: set[str], top: str) -> list[str]:
    return sorted(p for p in paths if p.startswith(top + "/") or not top)


def layer_changes(image: Any) -> list[Change]:
    """Every change of every layer of ``image``, in tar order, base layer first."""
    present: set[str] = set()
    changes: list[Change] = []
    for n, layer in enumerate(image.layers):
        written: set[str] = set()
        with (open_layer(image.store.path(layer.digest), layer.media_type) as stream,
              tarfile.open(fileobj=stream, mode="r|") as tar):
            for member in tar:
                directory, base = posixpath.split(_clean(member.name))
                if base == OPAQUE:
                    gone = [p for p in _under(present, directory) if p not in written]
                elif base.startswith(WHITEOUT_PREFIX):
                    path = posixpath.join(directory, base.removeprefix(WHITEOUT_PREFIX))
                    gone = [path, *_under(present, path)] if path in present else []
                else:
                    path = posixpath.join(directory, base)
                    changes.append(Change(n, path, "changed" if path in present else "added"))
                    present.add(path)
                    written.add(path)
                    continue
                changes.extend(Change(n, path, "deleted") for path in gone)
                present.difference_update(gone)
    return changes


def history(changes: list[Change], path: str) -> list[tuple[int, Kind]]:
    """What each layer did to one path, e.g. ``[(1, "added"), (2, "changed"), (3, "deleted")]``."""
    return [(c.layer, c.kind) for c in changes if c.path == _clean(path)]


class LayerBrowser(widgets.VBox):
    """A table with a row per path and a column per layer (+ added, ~ changed, − deleted), filtered by a prefix."""

    def __init__(self, image: Any, prefix: str = "") -> None:
        self.changes = layer_changes(image)
        self._layers = len(image.layers)
        self.filter = widgets.Text(value=prefix, description="path starts with", style={"description_width": "initial"})
        self._table = widgets.HTML()
        self.filter.observe(lambda _: self._render(), names="value")
        super().__init__([self.filter, self._table])
        self._render()

    def rows(self) -> list[tuple[str, list[str]]]:
        """(path, one mark per layer) for the paths that match the filter, sorted."""
        prefix = _clean(self.filter.value) if self.filter.value.strip("/") else ""
        marks: dict[str, list[str]] = {}
        for change in self.changes:
            if change.path.startswith(prefix):
                marks.setdefault(change.path, [""] * self._layers)[change.layer] = _MARKS[change.kind]
        return sorted(marks.items())

    def text(self) -> str:
        """The table as plain text (what a notebook prints, and nbval compares)."""
        rows = self.rows()
        width = max([len(path) for path, _ in rows] + [4])
        lines = ["path".ljust(width) + "  " + " ".join(f"L{n}" for n in range(self._layers))]
        lines += [path.ljust(width) + "  " + " ".join(m.center(2) for m in marks).rstrip() for path, marks in rows]
        return "\n".join(lines)

    def _render(self) -> None:
        head = "".join(f"<th>layer {n}</th>" for n in range(self._layers))
        body = "".join(
            f"<tr><td>{html.escape(path)}</td>" + "".join(f"<td style='text-align:center'>{m}</td>" for m in marks) + "</tr>"
            for path, marks in self.rows())  # fmt: skip
        self._table.value = (f"<table style='font-family: monospace; font-size: 12px'><tr><th>path</th>{head}</tr>"
                             f"{body}</table>")
