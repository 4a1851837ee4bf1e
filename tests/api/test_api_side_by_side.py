"""The same lifecycle on the real containerd and on labkit, watched from Python over the same API."""

from __future__ import annotations

from pathlib import Path

import pytest
from waiting import oom_probe, probe_name, subscribed

from labkit.api.client import Client, Subscription

pytestmark = [pytest.mark.root, pytest.mark.registry, pytest.mark.tool("containerd", "ctr", "runc")]


def lifecycle_filters(id: str) -> tuple[str, ...]:
    """The container's own events: tasks and containers, and its snapshot (not the image's layers)."""
    return ('topic~="^/(tasks|containers)/"', f"event.key=={id}")


def topics(subscription: Subscription, count: int) -> list[str]:
    """The topics of the next ``count`` envelopes ("(nothing)" for each that did not come)."""
    received = [subscription.recv(timeout=5) for _ in range(count)]
    subscription.close()
    return [e.topic if e else "(nothing)" for e in received]


def test_run_rm_publishes_the_same_topics_on_both(containerd, supervisor, labkit_socket: Path, registry: str) -> None:
    image = f"{registry}/lab/busybox:latest"
    with Client(containerd.address).wait_ready() as real, Client(labkit_socket).wait_ready() as mini:
        real_subscription = real.subscribe(*lifecycle_filters("sbs"))
        mini_subscription = mini.subscribe(*lifecycle_filters("sbs"))
        subscribed(oom_probe(real.publish), probe_name(real_subscription))
        subscribed(oom_probe(mini.publish), probe_name(mini_subscription))

        assert containerd.run(image, "sbs", "sh", "-c", "exit 2").returncode == 2

        container = supervisor.create_container("sbs", image, args=["sh", "-c", "exit 2"])
        task = container.new_task()
        task.start()
        assert task.wait() == 2
        task.delete()
        container.delete()

        real_topics = topics(real_subscription, 8)
        mini_topics = topics(mini_subscription, 8)
    assert mini_topics == real_topics == [
        "/snapshot/prepare", "/containers/create", "/tasks/create", "/tasks/start",
        "/tasks/exit", "/tasks/delete", "/snapshot/remove", "/containers/delete",
    ]
