"""The exchange: publish events, subscribe to them with filters, replay the past.

containerd's exchange (``events/exchange/exchange.go``) broadcasts each published
envelope to every subscriber whose filters match. labkit's does the same through the
journal, so that publisher and subscriber may be different processes::

    exchange = Exchange()
    with exchange.subscribe('topic=="/tasks/exit"') as sub:
        ...                                   # something publishes /tasks/exit
        envelope = sub.recv(timeout=5.0)      # the loop a containerd client writes

A subscription starts at the journal's end when it is made: it sees what is
published afterwards, by anyone, exactly once and in order. ``replay`` reads what
was published before (an exit that happened while nobody was listening).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument
from ..paths import NAMESPACE, default_root
from ..timestamps import rfc3339
from .envelope import TOPICS, Envelope, validate_topic
from .filters import Filter, parse
from .journal import Journal, Tail

__all__ = ["Exchange", "Subscription"]


def _payload(topic: str, event: dict[str, Any]) -> dict[str, Any]:
    """Check a known topic's payload fields and put them in containerd's order; times become RFC 3339."""
    event = {key: rfc3339(value) if isinstance(value, datetime) else value for key, value in event.items()}
    fields = TOPICS.get(topic)
    if fields is None:
        return event
    if set(event) != set(fields):
        missing, extra = sorted(set(fields) - set(event)), sorted(set(event) - set(fields))
        raise InvalidArgument(f"payload of {topic} must have fields {list(fields)}: missing {missing}, unknown {extra}")
    return {name: event[name] for name in fields}


class Exchange:
    """Publishes envelopes to, and subscribes to, the journal under a lab root.

    labkit itself publishes in containerd's ``default`` namespace (``paths.NAMESPACE``); the
    gRPC events service (``labkit.api``) publishes in its caller's namespace.
    """

    def __init__(self, root: Path | None = None, namespace: str = NAMESPACE) -> None:
        self.root = root if root is not None else default_root()
        self.namespace = namespace
        self.journal = Journal(self.root / "events.jsonl")

    def publish(self, topic: str, event: dict[str, Any]) -> Envelope:
        """Append one event to the journal and return its envelope.

        For a topic in ``TOPICS`` the payload must have exactly that topic's fields
        (containerd's payload types); ``datetime`` values are written as RFC 3339.
        """
        return self.journal.append(self.namespace, validate_topic(topic), _payload(topic, event))

    def subscribe(self, *filters: str) -> Subscription:
        """Follow what is published from now on that matches any of ``filters`` (none: everything)."""
        return Subscription(self.journal, parse(*filters))

    def replay(self, *filters: str) -> Iterator[Envelope]:
        """What was published before now that matches any of ``filters``, oldest first."""
        matcher = parse(*filters)
        return (envelope for envelope in self.journal.read() if matcher.match(envelope))


class Subscription:
    """A stream of matching envelopes: ``recv(timeout)``, iteration, ``close()``, ``with``.

    ``recv`` and iteration belong to one consumer thread; ``close()`` may be called from
    any thread and wakes a consumer blocked in ``recv`` (which then returns None).
    """

    def __init__(self, journal: Journal, matcher: Filter) -> None:
        self.filter = matcher
        self._tail = Tail(journal, journal.end())
        self._pending: deque[Envelope] = deque()
        self._lock = threading.Lock()  # held by the consumer while it reads or sleeps
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def recv(self, timeout: float | None = None) -> Envelope | None:
        """The next matching envelope; None after ``timeout`` seconds or once closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not self._closed:
                if not self._pending:
                    self._pending.extend(e for e in self._tail.read() if self.filter.match(e))
                if self._pending:
                    return self._pending.popleft()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._tail.wait(remaining)
            return None

    def __iter__(self) -> Iterator[Envelope]:
        """Every matching envelope as it comes, until the subscription is closed."""
        while (envelope := self.recv()) is not None:
            yield envelope

    def close(self) -> None:
        """Stop the subscription and release its file descriptors (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._tail.interrupt()
        with self._lock:  # wait for a consumer in recv() to notice, then free the files
            self._tail.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
