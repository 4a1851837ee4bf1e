"""The event log widget: filled by its own thread from a subscription, stopped cleanly."""

from __future__ import annotations

import time
from pathlib import Path

from labkit.events import TASK_PAUSED, TASK_RESUMED, Exchange
from labkit.widgets.eventlog import EventLog


def wait_for(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the event log did not update"
        time.sleep(0.01)


def test_event_log_follows_a_subscription_from_its_thread(lab_root: Path) -> None:
    exchange = Exchange()
    log = EventLog(exchange.subscribe('topic~="/tasks/(paused|resumed)"'), limit=2)
    assert repr(log) == "EventLog(0 received)"
    for container in ("a", "b", "c"):
        exchange.publish(TASK_PAUSED, {"container_id": container})
    exchange.publish(TASK_RESUMED, {"container_id": "c"})
    wait_for(lambda: len(log.envelopes) == 2 and log.envelopes[-1].topic == TASK_RESUMED)
    table = log.children[1].value
    assert "/tasks/resumed" in table and "&quot;container_id&quot;:&quot;c&quot;" in table
    assert '"a"' not in table and "&quot;a&quot;" not in table  # only the last `limit` are kept
    log.stop()
    assert not log._thread.is_alive()
    assert "4 received, stopped" in log.children[0].value
