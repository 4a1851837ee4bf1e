"""Two event streams side by side: the real containerd's and labkit's, row against row.

Each side is a subscription — from :mod:`labkit.api.client` (containerd's gRPC
``Subscribe``) or from labkit's own exchange; both offer ``recv``, iteration and
``close``. A background thread per side runs the client's receive loop and, after each
envelope, renders the table anew and assigns it to the ``HTML`` widget's ``value``:
that trait assignment is all a thread does to the widget (CONTRIBUTING.md, "Pictures
and widgets"). Rows whose topics differ are highlighted: that is where the two stop
doing the same thing.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Iterator
from typing import Protocol

import ipywidgets as widgets

from ..events import Envelope

__all__ = ["SideBySide", "Stream"]

_STYLE = "font-family: monospace; font-size: 12px; border-collapse: collapse"
_DIFFERENT = "background: #fde68a"
#: the payload field that names the object an event is about, by topic prefix
_SUBJECT = {"/tasks/": "container_id", "/containers/": "id", "/snapshot/": "key", "/images/": "name"}


class Stream(Protocol):
    """What a side needs: a subscription's receive loop and a way to end it."""

    def __iter__(self) -> Iterator[Envelope]: ...

    def close(self) -> None: ...


def _subject(envelope: Envelope) -> str:
    for prefix, field in _SUBJECT.items():
        if envelope.topic.startswith(prefix):
            return str(envelope.event.get(field, ""))
    return ""


class SideBySide(widgets.HTML):
    """A live table of two streams' envelopes: ``#``, then each side's topic and subject.

    ``received``, ``topics`` and :meth:`text` give what was received (the text form is what a
    notebook prints so that its output can be compared); :meth:`wait` blocks until
    each side has received a number of envelopes; :meth:`stop` closes both streams.
    """

    def __init__(self, left: tuple[str, Stream], right: tuple[str, Stream]) -> None:
        super().__init__()
        self.titles = (left[0], right[0])
        self._streams = (left[1], right[1])
        self._received: tuple[list[Envelope], list[Envelope]] = ([], [])
        self._render_lock = threading.Lock()  # ours: keeps the two threads' renderings in order
        self._render()
        self._threads = [
            threading.Thread(target=self._follow, args=(side,), name=f"labkit-side-{side}", daemon=True)
            for side in (0, 1)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def received(self) -> dict[str, list[Envelope]]:
        """Each side's title -> the envelopes it received, in order."""
        return {title: list(got) for title, got in zip(self.titles, self._received, strict=True)}

    @property
    def topics(self) -> dict[str, list[str]]:
        """Each side's title -> the topics it received, in order."""
        return {title: [e.topic for e in got] for title, got in self.received.items()}

    def _follow(self, side: int) -> None:
        for envelope in self._streams[side]:  # ends when the stream is closed
            self._received[side].append(envelope)
            self._render()

    def _rows(self) -> Iterator[tuple[int, Envelope | None, Envelope | None]]:
        left, right = (list(got) for got in self._received)
        for number in range(max(len(left), len(right))):
            yield (number + 1, left[number] if number < len(left) else None,
                   right[number] if number < len(right) else None)

    def _render(self) -> None:
        with self._render_lock:
            header = "".join(f"<th style='text-align: left; padding: 0 8px'>{html.escape(h)}</th>"
                             for h in ("#", *self.titles))
            rows = []
            for number, left, right in self._rows():
                differ = left is None or right is None or left.topic != right.topic
                cells = [str(number)] + [f"{e.topic} {_subject(e)}" if e else "" for e in (left, right)]
                rows.append(f"<tr style='{_DIFFERENT if differ else ''}'>"
                            + "".join(f"<td style='padding: 0 8px'>{html.escape(c)}</td>" for c in cells) + "</tr>")
            self.value = f"<table style='{_STYLE}'><tr>{header}</tr>{''.join(rows)}</table>"

    def text(self) -> str:
        """The topics as aligned plain text, ``≠`` marking rows where the two differ."""
        lines = [f"{'#':>2}  {self.titles[0]:<22}{self.titles[1]}"]
        for number, left, right in self._rows():
            mark = " " if left and right and left.topic == right.topic else "≠"
            lines.append(f"{number:>2}{mark} {left.topic if left else '':<22}{right.topic if right else ''}")
        return "\n".join(lines)

    def wait(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until each side has received at least ``count`` envelopes; False on timeout."""
        deadline = time.monotonic() + timeout
        while min(len(got) for got in self._received) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self) -> None:
        """Close both streams and wait for their threads to end."""
        for stream in self._streams:
            stream.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __repr__(self) -> str:
        return f"SideBySide({self.titles[0]} | {self.titles[1]})"
