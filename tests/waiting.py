"""The one way tests wait: for a condition to hold, never for a fixed time.

- ``wait_until(predicate, timeout)``: poll until the predicate holds;
- ``subscribed(publish_probe, next_probe)``: until a subscription demonstrably receives events;
- ``Lines``: a process's output read line by line with a timeout.

``wait_until(predicate, timeout)`` polls ``predicate`` until it returns something true and
returns that; after ``timeout`` seconds it fails the test with ``message``. A test that
must see something happen waits for the thing itself (a record written, a process gone, an
event received), so it is as fast as the machine allows and never flaky on a slow one.
"""

from __future__ import annotations

import json
import os
import select
import time
from collections.abc import Callable
from typing import IO, Any, TypeVar

__all__ = ["Lines", "line_probe", "oom_probe", "probe_name", "subscribed", "wait_until"]

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, message: str = "the condition never held",
               interval: float = 0.01) -> T:
    """Poll ``predicate`` every ``interval`` seconds until it is true; return its value, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (within {timeout:g} s)")
        time.sleep(interval)
    return value


def subscribed(publish_probe: Callable[[str], object], next_probe: Callable[[float], str | None],
               timeout: float = 10.0) -> None:
    """Return once a subscriber receives what is published: the event stream itself acknowledges.

    A subscription made over a socket (gRPC, ``ctr events``) starts some time after the call
    returns, and nothing says when. So publish probes named ``probe-1``, ``probe-2``, ...
    (``publish_probe(name)``) until the subscriber receives one (``next_probe(timeout)``: the
    name of the next probe it received, or None), then read on to the last one sent: from
    then on it misses nothing, and nothing of the probes is left for the test to read.
    """
    deadline = time.monotonic() + timeout
    sent = 0
    while True:
        sent += 1
        publish_probe(f"probe-{sent}")
        if (got := next_probe(0.2)) is not None:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"the subscriber received none of {sent} probes (within {timeout:g} s)")
    while got != f"probe-{sent}":
        if (got := next_probe(5.0)) is None:
            raise AssertionError(f"the subscriber never received probe-{sent}")


class Lines:
    """A process's output pipe, read line by line with a timeout (select(2)), for ``ctr events`` and the like."""

    def __init__(self, pipe: IO[str]) -> None:
        self._fd, self._buffer = pipe.fileno(), b""

    def next(self, timeout: float = 5.0) -> str | None:
        """The next line, without its newline; None if none comes within ``timeout`` seconds (or at EOF)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._fd], [], [], remaining)[0]:
                return None
            if not (data := os.read(self._fd, 65536)):
                return None
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()


def oom_probe(publish: Callable[[str, dict[str, Any]], object]) -> Callable[[str], object]:
    """A ``publish_probe`` for :func:`subscribed`: ``/tasks/oom`` for a container named as the probe.

    ``/tasks/oom`` is a task event no test makes otherwise, and it matches task filters (``topic~="^/tasks/"``).
    """
    return lambda name: publish("/tasks/oom", {"container_id": name})


def probe_name(subscription: Any) -> Callable[[float], str | None]:
    """A ``next_probe`` for :func:`subscribed`: the container id of what a subscription (``recv(timeout)``) gets next."""
    def next_probe(timeout: float) -> str | None:
        envelope = subscription.recv(timeout=timeout)
        return None if envelope is None else str(envelope.event.get("container_id"))
    return next_probe


def line_probe(lines: Lines) -> Callable[[float], str | None]:
    """A ``next_probe`` for :func:`subscribed` reading ``ctr events`` lines: the container id in the next one."""
    def next_probe(timeout: float) -> str | None:
        line = lines.next(timeout)
        if line is None:
            return None
        return str(json.loads(line.split(" ", 6)[6]).get("container_id"))
    return next_probe
