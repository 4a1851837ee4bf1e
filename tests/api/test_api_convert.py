"""labkit's envelopes <-> containerd's protobuf messages, as ctr and containerd encode them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf import any_pb2

from labkit.api.convert import EVENT_TYPES, envelope_from_proto, envelope_to_proto, pack_event, unpack_event
from labkit.errors import InvalidArgument
from labkit.events import TOPICS, Envelope


def test_a_payload_is_packed_under_containerds_bare_type_url() -> None:
    packed = pack_event("/tasks/start", {"container_id": "demo", "pid": 42})
    assert packed.type_url == "containerd.events.TaskStart"
    assert unpack_event(packed) == {"container_id": "demo", "pid": 42}


def test_every_labkit_topic_that_containerd_has_maps_to_a_message() -> None:
    for topic in TOPICS:
        if topic != "/content/create":  # containerd 1.6 publishes no such event
            assert topic in EVENT_TYPES, topic
            assert pack_event(topic, {}).type_url == EVENT_TYPES[topic]


def test_times_nested_messages_and_the_exit_round_trip() -> None:
    payload = {
        "container_id": "demo", "bundle": "/b", "pid": 7,
        "rootfs": [{"type": "overlay", "source": "overlay", "options": ["lowerdir=/l"]}],
        "io": {"stdout": "/o", "stderr": "/e", "terminal": True},
    }
    assert unpack_event(pack_event("/tasks/create", payload)) == payload
    exit_ = {"container_id": "demo", "id": "demo", "pid": 7, "exit_status": 3, "exited_at": "2017-12-05T20:44:37.131045Z"}
    assert unpack_event(pack_event("/tasks/exit", exit_)) == exit_


def test_zero_values_are_omitted_unless_asked_for() -> None:
    packed = pack_event("/tasks/exit", {"container_id": "demo", "id": "demo", "pid": 7, "exit_status": 0})
    assert "exit_status" not in unpack_event(packed)
    assert unpack_event(packed, zero_values=True)["exit_status"] == 0


def test_fields_the_message_lacks_are_dropped() -> None:
    assert unpack_event(pack_event("/containers/delete", {"id": "demo", "extra": 1})) == {"id": "demo"}


def test_a_topic_containerd_lacks_travels_as_a_struct() -> None:
    packed = pack_event("/content/create", {"digest": "sha256:ab", "size": 12})
    assert packed.type_url == "google.protobuf.Struct"
    assert unpack_event(packed) == {"digest": "sha256:ab", "size": 12}


def test_an_unknown_type_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="unknown event type 'example.Nope'"):
        unpack_event(any_pb2.Any(type_url="example.Nope", value=b""))


def test_envelopes_round_trip() -> None:
    envelope = Envelope(datetime(2017, 12, 5, 20, 44, 37, 131045, tzinfo=UTC), "default",
                        "/tasks/paused", {"container_id": "demo"})
    message = envelope_to_proto(envelope)
    assert message.DESCRIPTOR.full_name == "containerd.services.events.v1.Envelope"
    assert (message.timestamp.seconds, message.timestamp.nanos) == (1512506677, 131045000)
    assert envelope_from_proto(message) == envelope
