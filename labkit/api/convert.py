"""labkit's envelopes <-> containerd's protobuf messages.

On the wire an envelope is ``containerd.services.events.v1.Envelope{timestamp,
namespace, topic, event}`` where ``event`` is a ``google.protobuf.Any``: the payload
message serialised, with a type URL naming its type. containerd registers its event
types under their bare protobuf names (``github.com/containerd/typeurl``), so the type
URL is ``containerd.events.TaskStart``, not ``type.googleapis.com/...``; ``ctr events``
looks the type up by that name to decode the payload.

labkit's payloads are JSON dicts with containerd's field names (``labkit.events.TOPICS``),
so encoding is a table lookup (topic -> message, below) and ``ParseDict``; decoding is
``MessageToDict`` with the proto field names (snake_case). A topic containerd has no
message for (labkit's ``/content/create``) travels as a ``google.protobuf.Struct``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from google.protobuf import any_pb2, json_format, struct_pb2, symbol_database
from google.protobuf.message import Message

from ..errors import InvalidArgument
from ..events import Envelope
from .protos import load

__all__ = ["EVENT_TYPES", "pack_event", "unpack_event", "envelope_to_proto", "envelope_from_proto"]

#: topic -> the message containerd publishes on it (``api/events/*.proto``; the image
#: events' file, alone, declares the package ``containerd.services.images.v1``)
EVENT_TYPES: dict[str, str] = {
    "/tasks/create": "containerd.events.TaskCreate",
    "/tasks/start": "containerd.events.TaskStart",
    "/tasks/exit": "containerd.events.TaskExit",
    "/tasks/delete": "containerd.events.TaskDelete",
    "/tasks/paused": "containerd.events.TaskPaused",
    "/tasks/resumed": "containerd.events.TaskResumed",
    "/tasks/exec-added": "containerd.events.TaskExecAdded",
    "/tasks/exec-started": "containerd.events.TaskExecStarted",
    "/tasks/oom": "containerd.events.TaskOOM",
    "/tasks/checkpointed": "containerd.events.TaskCheckpointed",
    "/containers/create": "containerd.events.ContainerCreate",
    "/containers/update": "containerd.events.ContainerUpdate",
    "/containers/delete": "containerd.events.ContainerDelete",
    "/images/create": "containerd.services.images.v1.ImageCreate",
    "/images/update": "containerd.services.images.v1.ImageUpdate",
    "/images/delete": "containerd.services.images.v1.ImageDelete",
    "/content/delete": "containerd.events.ContentDelete",
    "/snapshot/prepare": "containerd.events.SnapshotPrepare",
    "/snapshot/commit": "containerd.events.SnapshotCommit",
    "/snapshot/remove": "containerd.events.SnapshotRemove",
    "/namespaces/create": "containerd.events.NamespaceCreate",
    "/namespaces/update": "containerd.events.NamespaceUpdate",
    "/namespaces/delete": "containerd.events.NamespaceDelete",
}

_EVENT_MODULES = ("container", "content", "image", "namespace", "snapshot", "task")


def _message_class(type_name: str) -> type[Message]:
    """The generated class of a message type, by its full protobuf name."""
    for module in _EVENT_MODULES:  # importing a module registers its types
        load(f"api/events/{module}_pb2")
    load("runtime/v2/runc/options/oci_pb2")  # the runc options inside /containers/create
    try:
        return symbol_database.Default().GetSymbol(type_name)
    except KeyError:
        raise InvalidArgument(f"unknown event type {type_name!r}") from None


def pack_event(topic: str, payload: dict[str, Any]) -> any_pb2.Any:
    """Encode a payload as the ``Any`` containerd would publish on ``topic``."""
    if topic in EVENT_TYPES:
        message = json_format.ParseDict(payload, _message_class(EVENT_TYPES[topic])(), ignore_unknown_fields=True)
    else:
        message = struct_pb2.Struct()
        message.update(payload)
    return any_pb2.Any(type_url=message.DESCRIPTOR.full_name, value=message.SerializeToString())


def unpack_event(event: any_pb2.Any, *, zero_values: bool = False) -> dict[str, Any]:
    """Decode an ``Any`` payload into a JSON dict with containerd's field names.

    Protobuf does not send zero values (``exit_status: 0``, ``id: ""``); with
    ``zero_values`` they are filled in, as a Go struct would hold them.
    """
    type_name = event.type_url.rsplit("/", 1)[-1]
    if type_name == "google.protobuf.Struct":
        return _whole_numbers(json_format.MessageToDict(struct_pb2.Struct.FromString(event.value)))
    message = _message_class(type_name).FromString(event.value)
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=zero_values
    )


def _whole_numbers(value: Any) -> Any:
    """A ``Struct`` holds every number as a double: give back ``12`` rather than ``12.0``."""
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def envelope_to_proto(envelope: Envelope) -> Message:
    """A labkit envelope as ``containerd.services.events.v1.Envelope``."""
    events_pb2 = load("api/services/events/v1/events_pb2")
    message = events_pb2.Envelope(
        namespace=envelope.namespace, topic=envelope.topic, event=pack_event(envelope.topic, envelope.event)
    )
    message.timestamp.FromDatetime(envelope.timestamp)
    return message


def envelope_from_proto(message: Message) -> Envelope:
    """``containerd.services.events.v1.Envelope`` as a labkit envelope."""
    return Envelope(
        timestamp=message.timestamp.ToDatetime(tzinfo=UTC),
        namespace=message.namespace,
        topic=message.topic,
        event=unpack_event(message.event),
    )
