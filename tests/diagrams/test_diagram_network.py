"""labkit.diagrams.network: the picture is what ip reports, attachment by attachment."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from labkit import net
from labkit.diagrams.network import topology

pytestmark = [pytest.mark.root, pytest.mark.tool("ip", "nsenter")]


@pytest.fixture
def attached() -> Iterator[net.Attachment]:
    name = f"labkit-d{uuid.uuid4().hex[:8]}"
    yield net.attach(name, net.add_netns(name))
    net.detach(name)
    net.delete_netns(name)


def test_topology_draws_bridge_veth_and_namespace(attached: net.Attachment) -> None:
    source = topology([attached.container_id]).source
    assert f"bridge {net.GATEWAY}" in source
    assert f"{attached.host_veth}\nveth" in source
    assert f"netns {attached.netns}" in source and f"eth0\n{attached.address}" in source
    assert "veth0 -> eth0" in source


def test_topology_of_nobody_is_just_the_bridge() -> None:
    source = topology([]).source
    assert "labkit0" in source and "veth0" not in source
