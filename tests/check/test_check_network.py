"""labkit.check.network: a namespace attached by labkit.net passes; each missing step gets its hint."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest

from labkit import net
from labkit.check import network as check

pytestmark = [pytest.mark.root, pytest.mark.tool("ip", "nsenter", "busybox")]


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"labkit-c{uuid.uuid4().hex[:8]}"
    yield name
    net.detach(name)
    net.delete_netns(name)


def test_no_namespace(netns: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert not check.connected(netns, str(net.GATEWAY.ip))
    assert f"ip netns add {netns}" in capsys.readouterr().out


def test_no_eth0(netns: str, capsys: pytest.CaptureFixture[str]) -> None:
    net.add_netns(netns)
    assert not check.connected(netns, str(net.GATEWAY.ip))
    assert "has no eth0" in capsys.readouterr().out


def test_no_lease(netns: str, capsys: pytest.CaptureFixture[str]) -> None:
    net.attach(netns, net.add_netns(netns))
    subprocess.run(["ip", "link", "set", net.veth_name(netns), "alias", ""], check=True)
    assert not check.connected(netns, str(net.GATEWAY.ip))
    assert "with a lease" in capsys.readouterr().out


def test_attached_namespace_passes(netns: str, capsys: pytest.CaptureFixture[str]) -> None:
    attached = net.attach(netns, net.add_netns(netns))
    assert check.connected(netns, str(net.GATEWAY.ip))
    assert str(attached.address) in capsys.readouterr().out
