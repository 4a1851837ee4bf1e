"""``labkit serve``: containerd's services over labkit, for the real ctr and for labkit's client."""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import pytest
from waiting import Lines, line_probe, oom_probe, probe_name, subscribed

from labkit.api.client import Client
from labkit.api.convert import pack_event
from labkit.api.protos import load
from labkit.api.server import status_code
from labkit.errors import KINDS, LabkitError
from labkit.events import Exchange


def ctr(socket: Path, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ctr", "--address", str(socket), *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.tool("ctr")
def test_ctr_events_receives_what_labkit_publishes(lab_root: Path, labkit_socket: Path) -> None:
    events = subprocess.Popen(["ctr", "--address", str(labkit_socket), "events"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        exchange, output = Exchange(lab_root), Lines(events.stdout)
        subscribed(oom_probe(exchange.publish), line_probe(output))
        exchange.publish("/tasks/start", {"container_id": "demo", "pid": 42})
        exchange.publish("/tasks/exit", {"container_id": "demo", "id": "demo", "pid": 42, "exit_status": 3,
                                         "exited_at": "2017-12-05T20:44:37.131045Z"})
        lines = [f"{output.next()}\n" for _ in range(2)]
    finally:
        events.terminate()
        events.wait()
    assert [line.split(" ", 6)[4:] for line in lines] == [
        ["default", "/tasks/start", '{"container_id":"demo","pid":42}\n'],
        ["default", "/tasks/exit", '{"container_id":"demo","id":"demo","pid":42,"exit_status":3,'
                        '"exited_at":"2017-12-05T20:44:37.131045Z"}\n'],
    ]


def test_subscribe_applies_containerd_filters(lab_root: Path, labkit_socket: Path) -> None:
    with Client(labkit_socket).wait_ready() as client:
        subscription = client.subscribe('topic=="/tasks/exit",event.exit_status==3', 'topic=="/tasks/oom"')
        exchange = Exchange(lab_root)
        subscribed(oom_probe(exchange.publish), probe_name(subscription))
        for status in (0, 3):
            exchange.publish("/tasks/exit", {"container_id": "c", "id": "c", "pid": 1, "exit_status": status,
                                             "exited_at": "2017-12-05T20:44:37Z"})
        exchange.publish("/tasks/paused", {"container_id": "c"})
        exchange.publish("/tasks/oom", {"container_id": "c"})
        received = [subscription.recv(timeout=5) for _ in range(2)]
        subscription.close()
    assert [(e.topic, e.event.get("exit_status")) for e in received] == [("/tasks/exit", 3), ("/tasks/oom", None)]


def test_publish_and_forward_reach_labkits_journal(lab_root: Path, labkit_socket: Path) -> None:
    with Client(labkit_socket, namespace="elsewhere").wait_ready() as client:
        client.publish("/tasks/exit", {"container_id": "c", "id": "c", "pid": 5})
    events_pb2 = load("api/services/events/v1/events_pb2")
    with grpc.insecure_channel(f"unix://{labkit_socket}") as channel:
        stub = load("api/services/events/v1/events_pb2_grpc").EventsStub(channel)
        forwarded = events_pb2.Envelope(namespace="other", topic="/custom/thing",
                                        event=pack_event("/custom/thing", {"n": 1}))
        stub.Forward(events_pb2.ForwardRequest(envelope=forwarded))
    journal = list(Exchange(lab_root).replay())
    assert [(e.namespace, e.topic, e.event) for e in journal] == [
        ("elsewhere", "/tasks/exit", {"container_id": "c", "id": "c", "pid": 5, "exit_status": 0, "exited_at": None}),
        ("other", "/custom/thing", {"n": 1}),
    ]


def test_a_bad_filter_is_an_invalid_argument(labkit_socket: Path) -> None:
    events_pb2 = load("api/services/events/v1/events_pb2")
    with grpc.insecure_channel(f"unix://{labkit_socket}") as channel:
        stub = load("api/services/events/v1/events_pb2_grpc").EventsStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            next(stub.Subscribe(events_pb2.SubscribeRequest(filters=["topic=="])))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_publish_without_a_namespace_fails_as_on_containerd(labkit_socket: Path) -> None:
    events_pb2 = load("api/services/events/v1/events_pb2")
    with grpc.insecure_channel(f"unix://{labkit_socket}") as channel:
        stub = load("api/services/events/v1/events_pb2_grpc").EventsStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Publish(events_pb2.PublishRequest(topic="/tasks/oom"))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.tool("ctr", "runc")
def test_ctr_sees_labkits_containers_tasks_and_their_events(supervisor, labkit_socket: Path, registry: str) -> None:
    events = subprocess.Popen(["ctr", "--address", str(labkit_socket), "events", 'topic~="^/tasks/"'],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        output = Lines(events.stdout)
        subscribed(oom_probe(supervisor.publish), line_probe(output))
        container = supervisor.create_container("srv-ctr", f"{registry}/lab/busybox:latest", args=["sleep", "60"],
                                                labels={"lab": "12"})
        supervisor.create_container("srv-idle", f"{registry}/lab/busybox:latest")
        task = container.new_task()
        task.start()
        containers = ctr(labkit_socket, "containers", "ls").stdout.splitlines()
        filtered = ctr(labkit_socket, "containers", "ls", "--quiet", "labels.lab==12").stdout.split()
        tasks = ctr(labkit_socket, "tasks", "ls").stdout.splitlines()
        info = ctr(labkit_socket, "containers", "info", "srv-ctr").stdout
        pid = task.pid
        task.kill(9)
        task.wait()
        task.delete()
        lines = [str(output.next()).split(" ")[5] for _ in range(4)]
    finally:
        events.terminate()
        events.wait()
    assert containers[0].split() == ["CONTAINER", "IMAGE", "RUNTIME"]
    assert [line.split() for line in containers[1:]] == [
        ["srv-ctr", f"{registry}/lab/busybox:latest", "runc"], ["srv-idle", f"{registry}/lab/busybox:latest", "runc"]]
    assert filtered == ["srv-ctr"]
    assert [line.split() for line in tasks] == [["TASK", "PID", "STATUS"], ["srv-ctr", str(pid), "RUNNING"]]
    assert '"args": [\n                "sleep",' in info  # the runtime spec, decoded by ctr
    assert lines == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.tool("runc")
def test_get_a_task_and_a_missing_container(supervisor, labkit_socket: Path, registry: str) -> None:
    container = supervisor.create_container("srv-get", f"{registry}/lab/busybox:latest", args=["true"])
    task = container.new_task()
    task.start()
    task.wait()
    tasks_pb2 = load("api/services/tasks/v1/tasks_pb2")
    containers_pb2 = load("api/services/containers/v1/containers_pb2")
    metadata = (("containerd-namespace", "default"),)
    with grpc.insecure_channel(f"unix://{labkit_socket}") as channel:
        tasks = load("api/services/tasks/v1/tasks_pb2_grpc").TasksStub(channel)
        process = tasks.Get(tasks_pb2.GetRequest(container_id="srv-get"), metadata=metadata).process
        containers = load("api/services/containers/v1/containers_pb2_grpc").ContainersStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            containers.Get(containers_pb2.GetContainerRequest(id="nope"), metadata=metadata)
        other = tasks.List(tasks_pb2.ListTasksRequest(), metadata=(("containerd-namespace", "other"),))
    assert (process.id, process.status, process.exit_status) == ("srv-get", load("api/types/task/task_pb2").STOPPED, 0)
    assert process.exited_at.seconds > 0
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert list(other.tasks) == []


def test_get_in_another_namespace_is_not_found(labkit_socket: Path) -> None:
    containers_pb2 = load("api/services/containers/v1/containers_pb2")
    with grpc.insecure_channel(f"unix://{labkit_socket}") as channel:
        containers = load("api/services/containers/v1/containers_pb2_grpc").ContainersStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            containers.Get(containers_pb2.GetContainerRequest(id="any"), metadata=(("containerd-namespace", "k8s.io"),))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "container any not found in namespace k8s.io"


@pytest.mark.parametrize("kind", sorted(KINDS.values(), key=lambda kind: kind.__name__))
def test_every_labkit_error_kind_has_containerds_grpc_status(kind: type[LabkitError]) -> None:
    """errdefs/grpc.go: ... DataCorrupted is DATA_LOSS, and an error of no other kind is UNKNOWN."""
    expected = {"InvalidArgument": "INVALID_ARGUMENT", "NotFound": "NOT_FOUND", "AlreadyExists": "ALREADY_EXISTS",
                "FailedPrecondition": "FAILED_PRECONDITION", "Unavailable": "UNAVAILABLE",
                "PermissionDenied": "PERMISSION_DENIED", "DataCorrupted": "DATA_LOSS", "LabkitError": "UNKNOWN"}
    assert status_code(kind("x")).name == expected[kind.__name__]
