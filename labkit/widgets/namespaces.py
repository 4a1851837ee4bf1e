"""The namespace explorer (notebook 01): pick a process, see its namespaces next to the host's.

A drop-down lists the processes whose ``/proc/PID/ns`` this notebook may read; the
table beside it puts the chosen process's namespace inodes next to those of the
reference process (the notebook's own kernel, which stands for the host) and marks
each row *shared* or *own*. Everything is read from ``/proc`` when the choice changes.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import ipywidgets as widgets

from .. import ns
from ..errors import LabkitError

__all__ = ["NamespaceExplorer", "processes"]

_STYLE = "font-family: monospace; font-size: 12px; border-collapse: collapse"


def processes() -> list[tuple[str, int]]:
    """(``"PID command"``, pid) of every process whose namespaces can be read, by pid."""
    found = []
    for entry in sorted((e for e in os.listdir("/proc") if e.isdigit()), key=int):
        try:
            command = Path(f"/proc/{entry}/comm").read_text().strip()
            ns.namespaces(entry)
        except (OSError, LabkitError):  # gone meanwhile, or not ours to read
            continue
        found.append((f"{entry} {command}", int(entry)))
    return found


class NamespaceExplorer(widgets.VBox):
    """Choose a process (or call :meth:`select`); ``rows`` holds what the table shows."""

    def __init__(self, reference: int | None = None) -> None:
        self.reference = reference or os.getpid()
        self.rows: list[tuple[str, str, str, bool]] = []
        self._picker = widgets.Dropdown(description="process", options=processes(), value=None)
        self._refresh = widgets.Button(description="refresh list", icon="refresh")
        self._table = widgets.HTML()
        self._picker.observe(lambda change: self._show(change["new"]), names="value")
        self._refresh.on_click(lambda _button: self._reload())
        super().__init__([widgets.HBox([self._picker, self._refresh]), self._table])

    def select(self, pid: int) -> None:
        """Show process ``pid`` (refreshing the list if it started after the explorer)."""
        if pid not in (value for _label, value in self._picker.options):
            self._reload()
        self._picker.value = pid

    def text(self) -> str:
        """The table as plain text, one namespace per line."""
        return "\n".join(f"{entry:18} {mine:22} {theirs:22} {'shared' if same else 'own'}"
                         for entry, mine, theirs, same in self.rows)

    def _reload(self) -> None:
        self._picker.options = processes()

    def _show(self, pid: int | None) -> None:
        if pid is None:
            self.rows, self._table.value = [], ""
            return
        try:
            theirs = ns.namespaces(pid)
        except LabkitError as err:  # the process exited since the list was made
            self.rows, self._table.value = [], f"<i>{html.escape(str(err))}</i>"
            return
        host = ns.namespaces(self.reference)
        self.rows = [(entry, str(host[entry]), str(namespace), host[entry] == namespace)
                     for entry, namespace in theirs.items() if entry in host]
        cells = "".join(
            f"<tr><td>{entry}</td><td>{mine}</td><td>{other}</td>"
            f"<td style='color:{'gray' if same else '#b91c1c'}'>{'shared' if same else 'own'}</td></tr>"
            for entry, mine, other, same in self.rows)
        header = f"<tr><th>namespace</th><th>host (pid {self.reference})</th><th>pid {pid}</th><th></th></tr>"
        self._table.value = f"<table style='{_STYLE}'>{header}{cells}</table>"
