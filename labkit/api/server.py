"""``labkit serve``: labkit behind containerd's own gRPC services, on a unix socket.

The server speaks the services of containerd's API that map onto labkit, with the
messages generated from containerd's ``.proto`` files, so that containerd's clients —
the real ``ctr --address SOCKET ...`` among them — work against labkit unchanged:

- ``containerd.services.events.v1.Events`` (``api/services/events/v1/events.proto``):
  ``Subscribe`` with containerd's filters, ``Publish`` and ``Forward``, all backed by
  labkit's exchange, so a subscriber here sees what any labkit process publishes;
- ``containerd.services.containers.v1.Containers``: the read-only ``Get``, ``List`` and
  ``ListStream`` over the supervisor's container records;
- ``containerd.services.tasks.v1.Tasks``: the read-only ``Get`` and ``List``.

Every other call answers ``UNIMPLEMENTED``, as a gRPC server does for a method it
lacks. labkit has one namespace (``paths.NAMESPACE``); a call made in another one sees
no containers and no tasks, as containerd would show an empty namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2

from ..errors import (
    AlreadyExists,
    DataCorrupted,
    FailedPrecondition,
    InvalidArgument,
    LabkitError,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from ..events import TOPICS, Exchange, parse
from ..paths import NAMESPACE, default_root
from ..supervisor import Container, Supervisor
from .convert import envelope_to_proto, unpack_event
from .protos import load
from .records import ContainerFields, container_to_proto, process_to_proto

__all__ = ["STATUS_CODES", "default_address", "serve", "status_code"]

_events: Any = load("api/services/events/v1/events_pb2")
_events_grpc: Any = load("api/services/events/v1/events_pb2_grpc")
_containers: Any = load("api/services/containers/v1/containers_pb2")
_containers_grpc: Any = load("api/services/containers/v1/containers_pb2_grpc")
_tasks: Any = load("api/services/tasks/v1/tasks_pb2")
_tasks_grpc: Any = load("api/services/tasks/v1/tasks_pb2_grpc")

#: every kind of labkit error -> the gRPC status containerd gives the same failure (``errdefs/grpc.go``, ToGRPC:
#: invalid argument, not found, already exists, failed precondition, unavailable, permission denied, data loss;
#: any other error is Unknown)
STATUS_CODES: dict[type[LabkitError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    DataCorrupted: grpc.StatusCode.DATA_LOSS,
    LabkitError: grpc.StatusCode.UNKNOWN,
}


def default_address(root: Path | None = None) -> Path:
    """Where ``labkit serve`` listens unless told otherwise: ``<lab root>/labkit.sock``."""
    return (root or default_root()) / "labkit.sock"


def status_code(error: LabkitError) -> grpc.StatusCode:
    """The gRPC status for ``error``: that of its kind (a subclass of a kind counts as that kind)."""
    return next(STATUS_CODES[kind] for kind in type(error).__mro__ if kind in STATUS_CODES)


def _abort(context: grpc.ServicerContext, error: LabkitError) -> None:
    context.abort(status_code(error), str(error))


def _namespace(context: grpc.ServicerContext) -> str:
    """The caller's namespace, from the ``containerd-namespace`` header (containerd, ``namespaces/grpc.go``)."""
    namespace = dict(context.invocation_metadata()).get("containerd-namespace", "")
    if not namespace:
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "namespace is required")
    return namespace


def _container(supervisor: Supervisor, container_id: str, context: grpc.ServicerContext) -> Container:
    """The container ``container_id`` in the caller's namespace (only labkit's own has containers)."""
    if (namespace := _namespace(context)) != NAMESPACE:
        raise NotFound(f"container {container_id} not found in namespace {namespace}")
    return supervisor.container(container_id)


def _payload(topic: str, event: Any) -> dict[str, Any]:
    """A decoded payload with exactly the fields labkit's exchange expects for a known topic."""
    payload = unpack_event(event, zero_values=True)
    if topic in TOPICS:
        return {name: payload.get(name) for name in TOPICS[topic]}
    return payload


class EventsService(_events_grpc.EventsServicer):
    """containerd's events service over labkit's exchange (``<root>/events.jsonl``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def Subscribe(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        """Stream every envelope published from now on that matches any of the request's filters."""
        try:
            subscription = Exchange(self.root).subscribe(*request.filters)
        except LabkitError as error:
            _abort(context, error)
        context.add_callback(subscription.close)  # the client went away: end the loop below
        with subscription:
            for envelope in subscription:
                yield envelope_to_proto(envelope)

    def Publish(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Stamp the event with the time and the caller's namespace, and publish it."""
        return self._publish(_namespace(context), request.topic, request.event, context)

    def Forward(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Publish an envelope made elsewhere, in its own namespace (labkit's journal re-stamps the time)."""
        envelope = request.envelope
        return self._publish(envelope.namespace, envelope.topic, envelope.event, context)

    def _publish(self, namespace: str, topic: str, event: Any, context: grpc.ServicerContext) -> Any:
        try:
            Exchange(self.root, namespace).publish(topic, _payload(topic, event))
        except LabkitError as error:
            _abort(context, error)
        return empty_pb2.Empty()


class ContainersService(_containers_grpc.ContainersServicer):
    """The read-only half of containerd's containers service, over the supervisor's records."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def _list(self, request: Any, context: grpc.ServicerContext) -> list[Container]:
        """The containers of the caller's namespace that match any of the request's filters."""
        try:
            matcher = parse(*request.filters)
        except LabkitError as error:
            _abort(context, error)
        if _namespace(context) != NAMESPACE:
            return []
        return [c for c in self.supervisor.containers() if matcher.match(ContainerFields(c))]

    def Get(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return _containers.GetContainerResponse(container=container_to_proto(_container(self.supervisor, request.id, context)))
        except LabkitError as error:
            _abort(context, error)

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        containers = [container_to_proto(c) for c in self._list(request, context)]
        return _containers.ListContainersResponse(containers=containers)

    def ListStream(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        """What ``ctr containers ls`` calls first: one message per container."""
        for container in self._list(request, context):
            yield _containers.ListContainerMessage(container=container_to_proto(container))


class TasksService(_tasks_grpc.TasksServicer):
    """The read-only half of containerd's tasks service: the tasks of the supervisor's containers."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def Get(self, request: Any, context: grpc.ServicerContext) -> Any:
        """The task of a container, or one of its exec'd processes (``exec_id``)."""
        try:
            task = _container(self.supervisor, request.container_id, context).task()
            process = task.process(request.exec_id) if request.exec_id else task
        except LabkitError as error:
            _abort(context, error)
        return _tasks.GetResponse(process=process_to_proto(process))

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Every container's task (containerd, too, ignores the request's filter here)."""
        tasks = []
        if _namespace(context) == NAMESPACE:
            for container in self.supervisor.containers():
                try:
                    tasks.append(process_to_proto(container.task()))
                except NotFound:  # a container with no task, or one deleted meanwhile
                    continue
        return _tasks.ListTasksResponse(tasks=tasks)


def serve(address: Path | None = None, root: Path | None = None, *, workers: int = 16) -> grpc.Server:
    """Start the server on a unix socket and return it; ``server.stop(grace)`` ends it.

    Each open ``Subscribe`` stream holds one of ``workers`` threads for as long as it lasts.
    """
    root = root or default_root()
    address = address or default_address(root)
    address.parent.mkdir(parents=True, exist_ok=True)
    address.unlink(missing_ok=True)  # a socket left by a server that was killed
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labkit-serve"))
    supervisor = Supervisor(root)
    _events_grpc.add_EventsServicer_to_server(EventsService(root), server)
    _containers_grpc.add_ContainersServicer_to_server(ContainersService(supervisor), server)
    _tasks_grpc.add_TasksServicer_to_server(TasksService(supervisor), server)
    server.add_insecure_port(f"unix://{address}")
    server.start()
    return server
