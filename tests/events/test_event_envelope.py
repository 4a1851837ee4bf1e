"""Envelopes: JSON round trip, ``ctr events`` lines, topics and their payload fields."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from labkit.errors import InvalidArgument
from labkit.events import TASK_EXIT, TOPICS, Envelope
from labkit.events.envelope import go_time, rfc3339, validate_topic

MOMENT = datetime(2017, 12, 5, 20, 44, 37, 131045, tzinfo=UTC)
EXIT = Envelope(MOMENT, "default", TASK_EXIT,
                {"container_id": "web", "id": "web", "pid": 42, "exit_status": 0, "exited_at": rfc3339(MOMENT)})


def test_json_round_trip() -> None:
    line = EXIT.to_json()
    assert "\n" not in line
    assert line.startswith('{"timestamp":"2017-12-05T20:44:37.131045Z","namespace":"default","topic":"/tasks/exit"')
    assert Envelope.from_json(line) == EXIT


def test_envelope_is_frozen() -> None:
    with pytest.raises(AttributeError):
        EXIT.topic = "/tasks/start"  # type: ignore[misc]


@pytest.mark.parametrize("text", ["", "{}", "[1]", '{"timestamp":"yesterday","namespace":"","topic":"/a","event":{}}'])
def test_from_json_rejects_what_is_not_an_envelope(text: str) -> None:
    with pytest.raises(InvalidArgument):
        Envelope.from_json(text)


def test_ctr_line_is_what_ctr_events_prints() -> None:
    # Go's time.Time.String() and json.Marshal with omitempty: exit_status 0 is left out.
    assert EXIT.ctr_line() == (
        '2017-12-05 20:44:37.131045 +0000 UTC default /tasks/exit '
        '{"container_id":"web","id":"web","pid":42,"exited_at":"2017-12-05T20:44:37.131045Z"}'
    )


@pytest.mark.parametrize(
    ("moment", "go", "rfc"),
    [
        (MOMENT, "2017-12-05 20:44:37.131045 +0000 UTC", "2017-12-05T20:44:37.131045Z"),
        (MOMENT.replace(microsecond=500000), "2017-12-05 20:44:37.5 +0000 UTC", "2017-12-05T20:44:37.5Z"),
        (MOMENT.replace(microsecond=0), "2017-12-05 20:44:37 +0000 UTC", "2017-12-05T20:44:37Z"),
    ],
)
def test_go_time_formats_trim_zeros(moment: datetime, go: str, rfc: str) -> None:
    assert go_time(moment) == go
    assert rfc3339(moment) == rfc


def test_topics_and_fields_are_containerds() -> None:
    assert TOPICS["/tasks/create"] == ("container_id", "bundle", "rootfs", "io", "pid")
    assert TOPICS["/tasks/exit"] == ("container_id", "id", "pid", "exit_status", "exited_at")
    assert TOPICS["/tasks/delete"] == ("container_id", "pid", "exit_status", "exited_at", "id")
    assert TOPICS["/tasks/exec-started"] == ("container_id", "exec_id", "pid")
    assert TOPICS["/containers/create"] == ("id", "image", "runtime")
    assert TOPICS["/snapshot/commit"] == ("key", "name")
    for topic, fields in TOPICS.items():
        assert validate_topic(topic) == topic
        assert all(re.fullmatch(r"[a-z_]+", field) for field in fields)


@pytest.mark.parametrize("topic", ["", "/", "tasks/exit", "/tasks//exit", "/tasks/ex it", "/tasks/-exit"])
def test_bad_topics_are_refused(topic: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_topic(topic)
