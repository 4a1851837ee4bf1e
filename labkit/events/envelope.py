"""The event envelope, containerd's topics and their payload fields.

Every milestone the supervisor reaches is published as an *envelope*: when it
happened, in which namespace, on which topic, and a payload (containerd,
``events/events.go``: ``Envelope{Timestamp, Namespace, Topic, Event}``). The topic
names and payload field names below are containerd's own (``api/events/*.proto``,
JSON names in snake_case), so that what a learner sees here is what ``ctr events``
shows for the same commands.

An envelope has two text forms:

- ``to_json()``: one JSON object, the journal's line format and ``labkit events --json``;
- ``ctr_line()``: ``TIMESTAMP NAMESPACE TOPIC {payload}`` as ``ctr events`` prints it, with
  Go's ``time.Time.String()`` timestamp and Go's ``omitempty`` rule for the payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import InvalidArgument
from ..identifiers import is_valid
from ..timestamps import go_time, rfc3339

__all__ = [
    "Envelope",
    "TOPICS",
    "TASK_CREATE",
    "TASK_START",
    "TASK_EXIT",
    "TASK_DELETE",
    "TASK_PAUSED",
    "TASK_RESUMED",
    "TASK_EXEC_ADDED",
    "TASK_EXEC_STARTED",
    "TASK_OOM",
    "CONTAINER_CREATE",
    "CONTAINER_UPDATE",
    "CONTAINER_DELETE",
    "IMAGE_CREATE",
    "IMAGE_UPDATE",
    "IMAGE_DELETE",
    "CONTENT_CREATE",
    "CONTENT_DELETE",
    "SNAPSHOT_PREPARE",
    "SNAPSHOT_COMMIT",
    "SNAPSHOT_REMOVE",
    "Publisher",
    "validate_topic",
    "rfc3339",
    "go_time",
]

#: What publishes one event, ``publish(topic, payload)``: ``Exchange.publish``, ``Supervisor.publish``,
#: or a list's ``append`` wrapped by a test. What it returns (an ``Envelope``, or nothing) is not used.
Publisher = Callable[[str, dict[str, Any]], object]

TASK_CREATE = "/tasks/create"
TASK_START = "/tasks/start"
TASK_EXIT = "/tasks/exit"
TASK_DELETE = "/tasks/delete"
TASK_PAUSED = "/tasks/paused"
TASK_RESUMED = "/tasks/resumed"
TASK_EXEC_ADDED = "/tasks/exec-added"
TASK_EXEC_STARTED = "/tasks/exec-started"
TASK_OOM = "/tasks/oom"
CONTAINER_CREATE = "/containers/create"
CONTAINER_UPDATE = "/containers/update"
CONTAINER_DELETE = "/containers/delete"
IMAGE_CREATE = "/images/create"
IMAGE_UPDATE = "/images/update"
IMAGE_DELETE = "/images/delete"
CONTENT_CREATE = "/content/create"
CONTENT_DELETE = "/content/delete"
SNAPSHOT_PREPARE = "/snapshot/prepare"
SNAPSHOT_COMMIT = "/snapshot/commit"
SNAPSHOT_REMOVE = "/snapshot/remove"

#: topic -> its payload fields, in containerd's order (``api/events/*.proto``).
#: In ``/tasks/exit`` and ``/tasks/delete``, ``id`` is the *process* id: the container
#: id for the init process, the exec id for an exec'd one.
TOPICS: dict[str, tuple[str, ...]] = {
    TASK_CREATE: ("container_id", "bundle", "rootfs", "io", "pid"),
    TASK_START: ("container_id", "pid"),
    TASK_EXIT: ("container_id", "id", "pid", "exit_status", "exited_at"),
    TASK_DELETE: ("container_id", "pid", "exit_status", "exited_at", "id"),
    TASK_PAUSED: ("container_id",),
    TASK_RESUMED: ("container_id",),
    TASK_EXEC_ADDED: ("container_id", "exec_id"),
    TASK_EXEC_STARTED: ("container_id", "exec_id", "pid"),
    TASK_OOM: ("container_id",),
    CONTAINER_CREATE: ("id", "image", "runtime"),
    CONTAINER_UPDATE: ("id", "image", "labels", "snapshot_key"),
    CONTAINER_DELETE: ("id",),
    IMAGE_CREATE: ("name", "labels"),
    IMAGE_UPDATE: ("name", "labels"),
    IMAGE_DELETE: ("name",),
    CONTENT_CREATE: ("digest", "size"),
    CONTENT_DELETE: ("digest",),
    SNAPSHOT_PREPARE: ("key", "parent"),
    SNAPSHOT_COMMIT: ("key", "name"),
    SNAPSHOT_REMOVE: ("key",),
}

def validate_topic(topic: str) -> str:
    """Check a topic as containerd's exchange does (``events/exchange``: validateTopic)."""
    if not topic.startswith("/") or len(topic) == 1:
        raise InvalidArgument(f"event topic {topic!r} must start with '/' and have at least one component")
    for component in topic[1:].split("/"):
        if not is_valid(component):  # each component is an identifier (labkit.identifiers)
            raise InvalidArgument(f"event topic {topic!r}: component {component!r} is not an identifier")
    return topic


def _omitempty(value: Any) -> Any:
    """Drop zero values from a payload, as Go's ``json:",omitempty"`` tags do in ``ctr events``."""
    if isinstance(value, dict):
        kept = {key: _omitempty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in ("", 0, False, None, [], {})}
    return value


@dataclass(frozen=True)
class Envelope:
    """One published event (containerd, ``events.Envelope``).

    ``timestamp`` is timezone-aware UTC; ``event`` is the payload, a JSON-ready dict
    whose fields for a known topic are ``TOPICS[topic]``, in that order.
    """

    timestamp: datetime
    namespace: str
    topic: str
    event: dict[str, Any]

    def field(self, path: list[str]) -> tuple[str, bool]:
        """The value at a filter field path, and whether it is present (containerd's ``Field``).

        ``topic`` and ``namespace`` are the envelope's; ``event.<name>[.<name>...]`` walks the
        payload. Strings are present when non-empty; numbers and booleans print as text.
        """
        if path in (["topic"], ["namespace"]):
            name: str = getattr(self, path[0])
            return name, bool(name)
        if len(path) < 2 or path[0] != "event":
            return "", False
        value: Any = self.event
        for name in path[1:]:
            if not isinstance(value, dict) or name not in value:
                return "", False
            value = value[name]
        if isinstance(value, bool):
            return str(value).lower(), True
        if isinstance(value, (int, float)):
            return str(value), True
        if isinstance(value, str):
            return value, bool(value)
        return "", False

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a JSON-ready dict (the journal's record)."""
        return {
            "timestamp": rfc3339(self.timestamp),
            "namespace": self.namespace,
            "topic": self.topic,
            "event": self.event,
        }

    def to_json(self) -> str:
        """One line of compact JSON, without a newline."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        """Parse what ``to_json`` wrote; a malformed record is ``InvalidArgument``."""
        try:
            record = json.loads(text)
            return cls(
                timestamp=datetime.fromisoformat(record["timestamp"]),
                namespace=record["namespace"],
                topic=record["topic"],
                event=record["event"],
            )
        except (ValueError, KeyError, TypeError) as err:
            raise InvalidArgument(f"not an event envelope: {err}") from None

    def ctr_line(self) -> str:
        """``TIMESTAMP NAMESPACE TOPIC {payload}``, exactly as ``ctr events`` prints it."""
        payload = json.dumps(_omitempty(self.event), separators=(",", ":"), ensure_ascii=False)
        return f"{go_time(self.timestamp)} {self.namespace} {self.topic} {payload}"
