"""labkit's container and task records as containerd's messages, for the read-only services.

- a container record -> ``containerd.services.containers.v1.Container``
  (``api/services/containers/v1/containers.proto``): id, labels, image, runtime,
  the runtime spec, snapshotter and snapshot key, times, extensions;
- a task or an exec'd process -> ``containerd.v1.types.Process``
  (``api/types/task/task.proto``): container id, process id, pid, status, exit.

Two payloads are not protobuf messages in labkit. The runtime spec travels as
containerd stores it: JSON bytes in an ``Any`` whose type URL is the one
``github.com/containerd/typeurl`` registers for ``specs.Spec``, so ``ctr containers
info`` decodes it. An extension (a client's JSON data) travels as a
``google.protobuf.Value``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf import any_pb2, json_format, struct_pb2
from google.protobuf.message import Message

from ..supervisor import Container
from ..task import Process, Task
from .protos import load

__all__ = ["SPEC_TYPE_URL", "container_to_proto", "process_to_proto", "ContainerFields"]

#: the type URL containerd gives a runtime spec (``containers/containers.go``, typeurl.Register)
SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"


def _json_any(value: Any) -> any_pb2.Any:
    message = json_format.ParseDict(value, struct_pb2.Value())
    return any_pb2.Any(type_url=message.DESCRIPTOR.full_name, value=message.SerializeToString())


def container_to_proto(container: Container) -> Message:
    """A container record as containerd's ``Container`` message."""
    containers_pb2 = load("api/services/containers/v1/containers_pb2")
    message = containers_pb2.Container(
        id=container.id,
        labels=container.labels,
        image=container.image,
        runtime=containers_pb2.Container.Runtime(name=container.runtime),
        spec=any_pb2.Any(type_url=SPEC_TYPE_URL, value=json.dumps(container.spec).encode()),
        snapshotter=container.snapshotter,
        snapshot_key=container.snapshot_key,
        extensions={name: _json_any(value) for name, value in container.extensions.items()},
    )
    created = datetime.fromisoformat(container.created_at)
    message.created_at.FromDatetime(created)
    message.updated_at.FromDatetime(created)  # labkit's records are never updated
    return message


def process_to_proto(process: Task | Process) -> Message:
    """A task (its init process) or an exec'd process as containerd's ``Process`` message."""
    task_pb2 = load("api/types/task/task_pb2")
    message = task_pb2.Process(
        container_id=process.container_id,
        id=process.id,
        pid=process.pid,
        status=task_pb2.Status.Value(process.status().upper()),
    )
    state = process.state()
    if "exit_status" in state:
        message.exit_status = state["exit_status"]
        message.exited_at.FromJsonString(state["exited_at"])
    return message


class ContainerFields:
    """A container seen by containerd's filters (``containers/containers.go``, adaptContainer).

    Fields: ``id``, ``image``, ``runtime`` and ``runtime.name``, ``snapshotter``,
    ``labels.<key>``; so ``ctr containers ls 'image~=busybox'`` works as it does on containerd.
    """

    def __init__(self, container: Container) -> None:
        self.container = container

    def field(self, path: list[str]) -> tuple[str, bool]:
        c = self.container
        values = {"id": c.id, "image": c.image, "runtime": c.runtime, "snapshotter": c.snapshotter}
        if path == ["runtime", "name"]:
            path = ["runtime"]
        if len(path) == 1 and path[0] in values:
            return values[path[0]], bool(values[path[0]])
        if len(path) >= 2 and path[0] == "labels":
            key = ".".join(path[1:])
            return c.labels.get(key, ""), key in c.labels
        return "", False
