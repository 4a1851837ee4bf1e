"""labkit.net: two namespaces on the lab bridge reach each other, and delete leaves nothing."""

from __future__ import annotations

import ipaddress
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from waiting import wait_until

from labkit import net
from labkit.errors import AlreadyExists, InvalidArgument, NotFound


def test_veth_name_fits_an_interface_name() -> None:
    assert net.veth_name("web") == "lkweb"
    long = net.veth_name("a-container-id-longer-than-fifteen")
    assert long.startswith("lk") and len(long) == 15
    assert net.veth_name("a-container-id-longer-than-fifteeN") != long


def test_netns_names_carry_the_lab_prefix() -> None:
    with pytest.raises(InvalidArgument, match="labkit-"):
        net.add_netns("mine")


def test_unknown_netns_is_not_found() -> None:
    with pytest.raises(NotFound):
        net.netns_path("labkit-does-not-exist")


@pytest.fixture
def two_netns() -> Iterator[tuple[str, str]]:
    """Two fresh named namespaces ``labkit-<x>``; removed (with anything attached) afterwards."""
    names = [f"labkit-t{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        net.add_netns(name)
    yield names[0], names[1]
    for name in names:
        net.detach(name)
        net.delete_netns(name)


def _ping(netns: str, address: ipaddress.IPv4Address) -> subprocess.CompletedProcess[str]:
    command = ["ip", "netns", "exec", netns, "busybox", "ping", "-c1", "-W2", str(address)]
    return subprocess.run(command, capture_output=True, text=True, timeout=10)


@pytest.mark.root
@pytest.mark.tool("ip", "nsenter", "busybox")
def test_two_containers_ping_each_other_and_delete_leaves_nothing(two_netns: tuple[str, str]) -> None:
    a, b = two_netns
    at_a, at_b = net.attach(a, a), net.attach(b, f"/run/netns/{b}")
    assert at_a.address != at_b.address and (at_a.netns, at_b.netns) == (a, b)
    assert at_a.address.network == net.SUBNET and at_a.gateway == net.GATEWAY.ip
    assert {at_a, at_b} <= set(net.attachments())
    assert {at_a.host_veth, at_b.host_veth} <= set(net.bridge_ports())

    route = subprocess.run(["ip", "-n", a, "route"], capture_output=True, text=True, check=True).stdout
    assert f"default via {net.GATEWAY.ip} dev eth0" in route
    assert _ping(a, at_b.address.ip).returncode == 0, _ping(a, at_b.address.ip).stdout
    assert _ping(b, at_a.address.ip).returncode == 0

    with pytest.raises(AlreadyExists):
        net.attach(a, a)

    net.detach(a)
    net.detach(b)
    net.detach(b)  # twice is fine
    ports = net.bridge_ports()
    assert at_a.host_veth not in ports and at_b.host_veth not in ports
    assert not {at_a.address, at_b.address} & {x.address for x in net.attachments()}
    for name, veth in ((a, at_a.host_veth), (b, at_b.host_veth)):
        assert subprocess.run(["ip", "link", "show", veth], capture_output=True).returncode != 0
        inside = subprocess.run(["ip", "-n", name, "-br", "addr"], capture_output=True, text=True).stdout
        assert "eth0" not in inside and "10.88." not in inside


@pytest.mark.root
@pytest.mark.tool("ip", "nsenter")
def test_deleting_the_namespace_releases_the_address(two_netns: tuple[str, str]) -> None:
    a, _ = two_netns
    attached = net.attach(a, a)
    net.delete_netns(a)
    # the kernel tears a namespace down asynchronously (a work queue), so give it a moment
    wait_until(lambda: attached.host_veth not in net.bridge_ports(), 5, "the veth stayed on the bridge")
    assert attached not in net.attachments()
