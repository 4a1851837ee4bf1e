"""Graphviz pictures: the architecture, and live state drawn from the host.

Each module draws one topic and returns a ``graphviz.Digraph``; a notebook shows it
with ``show(graph)``, whose output nbval compares by DOT source (SVG differs between
graphviz versions; the DOT source does not).
"""

from __future__ import annotations

import base64

import graphviz

__all__ = ["show"]


def show(graph: graphviz.Digraph) -> None:
    """Show ``graph`` in a notebook as a picture whose text form is its DOT source.

    The output carries two representations: a PNG that JupyterLab draws, and the DOT
    source as plain text. nbval compares the text and skips the PNG (reference.md,
    "Notebook testing"), so a test notices when a picture's content changes, never
    when only graphviz's rendering does.
    """
    from IPython.display import display

    png = base64.b64encode(graph.pipe(format="png")).decode()
    display({"image/png": png, "text/plain": graph.source}, raw=True)
