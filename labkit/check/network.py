"""Checks for notebook 11, networking: a namespace connected to the lab bridge by hand."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

from .. import net
from ..paths import BRIDGE
from . import hint, passed

__all__ = ["connected"]


def _inside(netns: str, *args: str) -> list[dict]:
    done = subprocess.run(["ip", "-n", netns, "-j", *args], capture_output=True, text=True)
    return json.loads(done.stdout or "[]") if done.returncode == 0 else []


def connected(netns: str, peer: str) -> bool:
    """Is the named namespace ``netns`` on ``labkit0`` as ``labkit.net.attach`` would leave it, reaching ``peer``?"""
    if not Path("/run/netns", netns).exists():
        return hint(f"there is no namespace {netns}: `ip netns add {netns}`")
    eth0 = _inside(netns, "addr", "show", "dev", "eth0")
    if not eth0:
        return hint(f"{netns} has no eth0: `ip link add lkNAME type veth peer name eth0 netns {netns}`")
    addresses = [ipaddress.IPv4Interface(f"{a['local']}/{a['prefixlen']}")
                 for a in eth0[0].get("addr_info", []) if a.get("family") == "inet"]
    if not any(a.network == net.SUBNET for a in addresses):
        return hint(f"eth0 needs an address in {net.SUBNET} (with the /{net.SUBNET.prefixlen}): `ip -n {netns} addr add ...`")
    if "UP" not in eth0[0].get("flags", []):
        return hint(f"eth0 is down: `ip -n {netns} link set eth0 up`")
    routes = _inside(netns, "route", "show", "default")
    if not any(r.get("gateway") == str(net.GATEWAY.ip) for r in routes):
        return hint(f"no default route via the bridge: `ip -n {netns} route add default via {net.GATEWAY.ip}`")
    lease = next((a for a in net.attachments() if a.netns == netns), None)
    if lease is None:
        return hint(f"the host end must be a port of {BRIDGE} with a lease: "
                    f"`ip link set lkNAME master {BRIDGE} up` and `ip link set lkNAME alias 'ID ADDRESS/16'`")
    if lease.address not in addresses:
        return hint(f"the lease on {lease.host_veth} says {lease.address}, but eth0 has {', '.join(map(str, addresses))}: "
                    "the allocator would hand that address out again")
    ping = subprocess.run(["ip", "netns", "exec", netns, "busybox", "ping", "-c1", "-W2", peer],
                          capture_output=True, text=True)
    if ping.returncode != 0:
        return hint(f"everything is in place but {peer} does not answer: is {lease.host_veth} up (`ip link show {lease.host_veth}`)?")
    return passed(f"{netns} is on {BRIDGE} as {lease.address} with a lease, and reaches {peer}")
