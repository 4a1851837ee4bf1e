"""The exchange and its journal: publish, subscribe, replay, across threads and processes."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from waiting import wait_until

from labkit.errors import InvalidArgument
from labkit.events import TASK_EXIT, TASK_PAUSED, TASK_START, Envelope, Exchange

PUBLISHER = """
import sys
from labkit.events import Exchange
exchange = Exchange()
for i in range(int(sys.argv[2])):
    exchange.publish("/tasks/start", {"container_id": sys.argv[1], "pid": i})
"""


def exit_event(container: str, status: int) -> dict[str, object]:
    return {"container_id": container, "id": container, "pid": 7, "exit_status": status,
            "exited_at": datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)}


def test_publish_appends_one_line_per_envelope(lab_root: Path) -> None:
    exchange = Exchange()
    first = exchange.publish(TASK_START, {"pid": 1, "container_id": "a"})
    second = exchange.publish(TASK_EXIT, exit_event("a", 7))
    lines = (lab_root / "events.jsonl").read_text().splitlines()
    assert [Envelope.from_json(line) for line in lines] == [first, second]
    assert list(first.event) == ["container_id", "pid"]          # containerd's field order
    assert second.event["exited_at"] == "2026-01-02T03:04:05.6Z"  # datetimes become RFC 3339
    assert first.namespace == "default" and first.timestamp <= second.timestamp


def test_payload_fields_of_known_topics_are_checked(lab_root: Path) -> None:
    exchange = Exchange()
    with pytest.raises(InvalidArgument, match=r"missing \['pid'\], unknown \['pdi'\]"):
        exchange.publish(TASK_START, {"container_id": "a", "pdi": 1})
    with pytest.raises(InvalidArgument, match="must start with '/'"):
        exchange.publish("tasks/start", {})
    assert exchange.publish("/lab/custom", {"anything": [1]}).event == {"anything": [1]}
    assert len(list(exchange.replay())) == 1  # the refused ones were never written


def test_subscription_sees_what_comes_after_it_in_order(lab_root: Path) -> None:
    exchange = Exchange()
    exchange.publish(TASK_PAUSED, {"container_id": "before"})
    with exchange.subscribe('topic=="/tasks/exit"', "event.container_id==b") as sub:
        exchange.publish(TASK_EXIT, exit_event("a", 1))
        exchange.publish(TASK_PAUSED, {"container_id": "a"})  # filtered out
        exchange.publish(TASK_PAUSED, {"container_id": "b"})
        exchange.publish(TASK_EXIT, exit_event("c", 137))
        got = [sub.recv(timeout=1) for _ in range(3)]
        assert [(e.topic, e.event["container_id"]) for e in got if e] == [
            (TASK_EXIT, "a"), (TASK_PAUSED, "b"), (TASK_EXIT, "c")]
        assert sub.recv(timeout=0.05) is None


def test_replay_reads_the_past_with_filters(lab_root: Path) -> None:
    exchange = Exchange()
    exchange.publish(TASK_EXIT, exit_event("gone", 7))  # nobody was subscribed
    exchange.publish(TASK_PAUSED, {"container_id": "gone"})
    (exit_,) = exchange.replay('topic=="/tasks/exit",event.container_id==gone')
    assert exit_.event["exit_status"] == 7
    assert [e.topic for e in exchange.replay()] == [TASK_EXIT, TASK_PAUSED]


def test_waiting_costs_no_cpu(lab_root: Path) -> None:
    with Exchange().subscribe() as sub:
        started = time.process_time()
        assert sub.recv(timeout=0.5) is None
        assert time.process_time() - started < 0.05  # asleep in poll(), not spinning


def test_close_from_another_thread_ends_iteration(lab_root: Path) -> None:
    sub = Exchange().subscribe()
    seen: list[Envelope] = []
    consumer = threading.Thread(target=lambda: seen.extend(sub))
    consumer.start()
    Exchange().publish(TASK_PAUSED, {"container_id": "x"})
    wait_until(lambda: seen, 5, "the consumer never received the event")
    sub.close()
    consumer.join(timeout=2)
    assert not consumer.is_alive()
    assert [e.event for e in seen] == [{"container_id": "x"}]
    assert sub.closed and sub.recv(timeout=0) is None
    sub.close()  # idempotent


def test_a_line_being_written_is_not_read_half(lab_root: Path) -> None:
    exchange = Exchange()
    with exchange.subscribe() as sub:
        line = Envelope(datetime.now(UTC), "default", "/lab/x", {"n": 1}).to_json() + "\n"
        with open(lab_root / "events.jsonl", "a") as journal:
            journal.write(line[:20])
            journal.flush()
            assert sub.recv(timeout=0.1) is None
            journal.write(line[20:])
        received = sub.recv(timeout=1)
        assert received is not None and received.event == {"n": 1}


def test_concurrent_publishers_in_other_processes_lose_and_duplicate_nothing(lab_root: Path) -> None:
    count, writers = 300, 3
    with Exchange().subscribe('topic=="/tasks/start"') as sub:
        procs = [subprocess.Popen([sys.executable, "-c", PUBLISHER, f"w{n}", str(count)]) for n in range(writers)]
        received = [sub.recv(timeout=10) for _ in range(count * writers)]
        assert all(p.wait(timeout=20) == 0 for p in procs)
        assert sub.recv(timeout=0.1) is None
    assert None not in received
    for n in range(writers):  # each writer's events arrive complete and in its order
        assert [e.event["pid"] for e in received if e and e.event["container_id"] == f"w{n}"] == list(range(count))
    stamps = [e.timestamp for e in received if e]
    assert stamps == sorted(stamps)  # the journal's order is the timestamps' order


def test_a_sleeping_subscriber_wakes_at_once(lab_root: Path) -> None:
    with Exchange().subscribe() as sub:
        publisher = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)\n" + PUBLISHER, "late", "1"])
        envelope = sub.recv(timeout=10)  # asleep in poll() when the other process writes
        woke = datetime.now(UTC)
        assert publisher.wait(timeout=10) == 0
    assert envelope is not None
    assert json.loads(envelope.to_json())["event"] == {"container_id": "late", "pid": 0}
    # measured here: ~0.1 ms from the write to the wake-up; a sleep-poll would cost its period
    assert (woke - envelope.timestamp).total_seconds() < 0.05  # generous for a loaded CI machine


def _descriptors() -> dict[str, str]:
    """This process's open descriptors and what each is open on (another thread may open and close its own)."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # closed meanwhile
            pass
    return found


def test_a_forgotten_subscription_gives_its_descriptors_back(lab_root: Path) -> None:
    before = _descriptors()
    subscriptions = [Exchange().subscribe() for _ in range(20)]
    opened = {fd: target for fd, target in _descriptors().items() if before.get(fd) != target}
    assert len(opened) >= 20 * 4  # journal, inotify, wake pipe
    del subscriptions
    gc.collect()
    now = _descriptors()
    assert [fd for fd, target in opened.items() if now.get(fd) == target] == []


def test_an_exchange_can_publish_in_another_namespace(lab_root: Path) -> None:
    with Exchange().subscribe("namespace==k8s.io") as sub:
        Exchange(namespace="k8s.io").publish(TASK_PAUSED, {"container_id": "pod"})
        Exchange().publish(TASK_PAUSED, {"container_id": "mine"})
        received = sub.recv(timeout=1)
        assert received is not None and received.namespace == "k8s.io"
        assert sub.recv(timeout=0.05) is None
