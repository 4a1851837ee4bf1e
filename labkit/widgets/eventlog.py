"""A live event log: a table of envelopes that fills itself while the notebook goes on.

A background thread runs the same loop a containerd client runs — ``recv()`` on a
subscription — and after each envelope renders the table anew and assigns it to an
``HTML`` widget's ``value``. That single trait assignment is the only thing the thread
does to a widget (CONTRIBUTING.md, "Pictures and widgets"): ipywidgets sends the
change to the browser from any thread, and the cell that made the log stays free.
"""

from __future__ import annotations

import html
import json
import threading
from collections import deque

import ipywidgets as widgets

from ..events import Envelope, Subscription

__all__ = ["EventLog"]

_STYLE = "font-family: monospace; font-size: 12px; border-collapse: collapse"
#: a long payload wraps inside its own cell, and the row's other cells stay level with its first line
_CELL = "padding: 0 8px; vertical-align: top; word-break: break-all"


class EventLog(widgets.VBox):
    """Shows the last ``limit`` envelopes a subscription receives, newest last.

    ``stop()`` closes the subscription and ends the thread; ``envelopes`` is what was shown.
    """

    def __init__(self, subscription: Subscription, limit: int = 20) -> None:
        self._subscription = subscription
        self._shown: deque[Envelope] = deque(maxlen=limit)
        self._received = 0
        self._title = widgets.HTML()
        self._table = widgets.HTML()
        super().__init__([self._title, self._table])
        self._render()
        self._thread = threading.Thread(target=self._follow, name="labkit-event-log", daemon=True)
        self._thread.start()

    @property
    def envelopes(self) -> list[Envelope]:
        """The envelopes shown, oldest first."""
        return list(self._shown)

    @property
    def following(self) -> bool:
        """Whether the log's thread still follows its subscription (False once :meth:`stop` returned)."""
        return self._thread.is_alive()

    def _follow(self) -> None:
        for envelope in self._subscription:  # ends when the subscription is closed
            self._shown.append(envelope)
            self._received += 1
            self._render()

    def _render(self) -> None:
        state = "following" if not self._subscription.closed else "stopped"
        self._title.value = f"<b>Event log</b> — {self._received} received, {state}"
        rows = "".join(
            "<tr>" + "".join(f"<td style='{_CELL}'>{html.escape(cell)}</td>" for cell in (
                e.timestamp.strftime("%H:%M:%S.%f"), e.namespace, e.topic,
                json.dumps(e.event, separators=(",", ":")),
            )) + "</tr>"
            for e in self._shown
        )
        header = "".join(f"<th style='text-align: left; padding: 0 8px'>{h}</th>" for h in ("TIME", "NS", "TOPIC", "EVENT"))
        self._table.value = f"<table style='{_STYLE}'><tr>{header}</tr>{rows}</table>"

    def stop(self) -> None:
        """Close the subscription and wait for the thread to end."""
        self._subscription.close()
        self._thread.join(timeout=5)
        self._render()

    def __repr__(self) -> str:
        return f"EventLog({self._received} received)"
