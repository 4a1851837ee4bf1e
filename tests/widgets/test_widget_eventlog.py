"""The event log widget: filled by its own thread from a subscription, stopped cleanly."""

from __future__ import annotations

from pathlib import Path

from waiting import wait_until

from labkit.events import TASK_PAUSED, TASK_RESUMED, Exchange
from labkit.widgets.eventlog import EventLog


def test_event_log_follows_a_subscription_from_its_thread(lab_root: Path) -> None:
    exchange = Exchange()
    log = EventLog(exchange.subscribe('topic~="/tasks/(paused|resumed)"'), limit=2)
    assert repr(log) == "EventLog(0 received)"
    for container in ("a", "b", "c"):
        exchange.publish(TASK_PAUSED, {"container_id": container})
    exchange.publish(TASK_RESUMED, {"container_id": "c"})
    wait_until(lambda: len(log.envelopes) == 2 and log.envelopes[-1].topic == TASK_RESUMED, 5,
               "the event log did not update")
    table = log.children[1].value
    assert "/tasks/resumed" in table and "&quot;container_id&quot;:&quot;c&quot;" in table
    assert '"a"' not in table and "&quot;a&quot;" not in table  # only the last `limit` are kept
    log.stop()
    assert not log.following
    assert "4 received, stopped" in log.children[0].value
