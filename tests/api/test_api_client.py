"""labkit's gRPC client subscribes to the real containerd's events and receives them in a loop."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from waiting import oom_probe, probe_name, subscribed

from labkit.api.client import Client
from labkit.errors import Unavailable

pytestmark = [pytest.mark.root, pytest.mark.registry, pytest.mark.tool("containerd", "ctr", "runc")]

#: what containerd 1.6 publishes for `ctr run --rm` (reference.md, "containerd events")
RUN_RM = ["/snapshot/prepare", "/containers/create", "/tasks/create", "/tasks/start", "/tasks/exit",
          "/tasks/delete", "/snapshot/remove", "/containers/delete"]



def test_receives_the_lifecycle_of_ctr_run(containerd, registry: str) -> None:
    with Client(containerd.address).wait_ready() as client:
        subscription = client.subscribe('topic~="^/(tasks|containers)/"', "event.key==cl-run")
        subscribed(oom_probe(client.publish), probe_name(subscription))
        containerd.run(f"{registry}/lab/busybox:latest", "cl-run", "sh", "-c", "exit 7")
        received = [subscription.recv(timeout=5) for _ in RUN_RM]
        subscription.close()
    assert [e.topic for e in received] == RUN_RM
    exit_ = received[RUN_RM.index("/tasks/exit")]
    assert exit_.namespace == "default"
    assert exit_.event["container_id"] == exit_.event["id"] == "cl-run"
    assert exit_.event["exit_status"] == 7
    assert received[1].event["runtime"]["name"] == "io.containerd.runc.v2"


def test_a_loop_over_the_subscription_ends_when_it_is_closed(containerd) -> None:
    with Client(containerd.address) as client:
        subscription = client.subscribe('topic=="/tasks/oom"')
        subscribed(oom_probe(client.publish), probe_name(subscription))
        client.publish("/tasks/oom", {"container_id": "a"})
        client.publish("/tasks/oom", {"container_id": "b"})
        seen = []
        for envelope in subscription:
            seen.append(envelope.event["container_id"])
            if len(seen) == 2:
                subscription.close()
    assert seen == ["a", "b"]
    assert subscription.recv(timeout=0.1) is None


def test_recv_times_out_with_none(containerd) -> None:
    with Client(containerd.address) as client:
        subscription = client.subscribe('topic=="/never"')
        started = time.monotonic()
        assert subscription.recv(timeout=0.2) is None
        assert time.monotonic() - started >= 0.2
        subscription.close()


def test_no_server_is_unavailable(tmp_path: Path) -> None:
    with Client(tmp_path / "nothing.sock") as client, pytest.raises(Unavailable, match="no gRPC server"):
        client.wait_ready(timeout=0.2)
