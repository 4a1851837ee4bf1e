"""Container networking the way the CNI ``bridge`` plugin does it.

A container gets its own network namespace (runtime spec, config-linux.md:
"Namespaces", type ``network``); on its own that namespace holds only a ``lo`` that is
down. To connect it, the CNI ``bridge`` plugin (containernetworking/plugins) does four
things, and so does :func:`attach`:

1. make sure a **bridge** exists on the host (``labkit0``, gateway ``10.88.0.1/16``);
2. create a **veth pair**, a virtual cable: the host end ``lk<short id>`` is plugged into
   the bridge, the other end is created straight inside the container's namespace as
   ``eth0`` (the kernel moves it there as it makes it, so a half-made pair never
   appears on the host);
3. give ``eth0`` an **address** from a small allocator (the ``host-local`` IPAM plugin);
4. add a **default route** via the bridge's address.

:func:`detach` undoes it: deleting the host end of a veth deletes both ends, which also
takes the address and the bridge port with it.

Why ``ip`` (iproute2) and not pyroute2: every step below is one command a learner can
type in a terminal and read in ``ip``'s own manual, the program is on every Linux host
(no extra dependency), and its ``-j`` JSON output makes the live state easy to read
back. pyroute2 speaks netlink directly and would be faster, but it would hide the very
commands this lab is about.

Addresses: the allocator keeps no file. A lease *is* the host end of a veth: its
interface alias (``ip link set … alias``) says ``<container id> <address>``. Listing the
bridge's ports lists the leases, and deleting the veth releases the address, so an
address can never outlive its container. Allocation holds an exclusive ``flock`` on the
bridge's sysfs directory, so two processes never pick the same address. Everything
stays inside this machine: there is no NAT and no route out of ``10.88.0.0/16``.

Without root there is no bridge to plug into: making a veth or a bridge needs
``CAP_NET_ADMIN`` on the host. A rootless container gets **user-mode networking**
instead (:func:`slirp4netns`, as rootless Podman and rootlesskit do): a ``tap0`` in its own
network namespace whose packets an ordinary process on the host, ``slirp4netns``, turns
into its own socket calls — a TCP/IP stack in user space (libslirp, QEMU's). From inside,
the host is ``10.0.2.2``, its loopback included: the lab registry is ``10.0.2.2:5000``.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import re
import select
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import AlreadyExists, InvalidArgument, LabkitError, NotFound, PermissionDenied, Unavailable
from .paths import BRIDGE, NETNS_PREFIX, VETH_PREFIX

__all__ = [
    "SUBNET",
    "GATEWAY",
    "Attachment",
    "add_netns",
    "delete_netns",
    "netns_path",
    "ensure_bridge",
    "bridge_ports",
    "attach",
    "detach",
    "attachments",
    "veth_name",
    "SLIRP_HOST",
    "slirp4netns",
]

#: the lab's network: private (RFC 1918) and never routed off this host.
SUBNET = ipaddress.IPv4Network("10.88.0.0/16")
#: the bridge's own address, every container's default gateway.
GATEWAY = ipaddress.IPv4Interface(f"{next(SUBNET.hosts())}/{SUBNET.prefixlen}")
#: the name of the container's end of the veth pair, as CNI's ``CNI_IFNAME`` usually is.
CONTAINER_IFNAME = "eth0"
#: what the host is, seen from a container connected by slirp4netns (its loopback included)
SLIRP_HOST = ipaddress.IPv4Address("10.0.2.2")
_SLIRP_READY_TIMEOUT = 10.0  # seconds for slirp4netns to configure tap0
_NETNS_DIR = Path("/run/netns")
_IFNAMSIZ = 15  # an interface name has at most 15 bytes (linux/if.h: IFNAMSIZ - 1)


@dataclass(frozen=True)
class Attachment:
    """One container's place on the bridge: what ``attach`` made, read back from the host."""

    container_id: str
    host_veth: str  #: ``lk<short id>``, a port of the bridge
    address: ipaddress.IPv4Interface  #: the container's ``eth0`` address, e.g. 10.88.0.2/16
    netns: str  #: the namespace's name under ``/run/netns``; empty if it has none (``/proc/PID/ns/net``)
    gateway: ipaddress.IPv4Address = GATEWAY.ip


def _ip(*args: str, netns: Path | None = None) -> str:
    """Run ``ip ARGS`` (inside ``netns`` when given, through ``nsenter``) and return its output."""
    command = ["ip", *args]
    if netns is not None:
        command = ["nsenter", f"--net={netns}", *command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as err:
        raise Unavailable(f"{command[0]} is not installed (Debian package iproute2 / util-linux)") from err
    if done.returncode != 0:
        kind = PermissionDenied if "Operation not permitted" in done.stderr else Unavailable
        raise kind(f"`{' '.join(command)}` failed: {done.stderr.strip()}")
    return done.stdout


def _links(*args: str) -> list[dict]:
    """``ip -j link show ARGS`` as a list of dicts (empty when nothing matches)."""
    return json.loads(_ip("-j", "link", "show", *args) or "[]")


def netns_path(netns: str | os.PathLike[str]) -> Path:
    """The file of a network namespace: a name (``labkit-a`` -> ``/run/netns/labkit-a``) or a path."""
    text = os.fspath(netns)
    path = Path(text) if "/" in text else _NETNS_DIR / text
    if not path.exists():
        raise NotFound(f"no network namespace at {path}")
    return path


def add_netns(name: str) -> Path:
    """Create a named network namespace ``/run/netns/<name>`` (``ip netns add``); only ``lo``, down."""
    if not name.startswith(NETNS_PREFIX):
        raise InvalidArgument(f"lab network namespaces are named {NETNS_PREFIX}*, not {name!r}")
    if (_NETNS_DIR / name).exists():
        raise AlreadyExists(f"network namespace {name} already exists")
    _ip("netns", "add", name)
    return _NETNS_DIR / name


def delete_netns(name: str) -> None:
    """Delete a named network namespace; the interfaces inside it go with it (``ip netns delete``)."""
    if (_NETNS_DIR / name).exists():
        _ip("netns", "delete", name)


def ensure_bridge() -> str:
    """Create ``labkit0`` with the gateway address and bring it up, unless it is there already."""
    if not Path("/sys/class/net", BRIDGE).exists():
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", str(GATEWAY), "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    return BRIDGE


def bridge_ports() -> list[str]:
    """Names of the interfaces plugged into ``labkit0`` (empty when there is no bridge)."""
    if not Path("/sys/class/net", BRIDGE).exists():
        return []
    return sorted(link["ifname"] for link in _links("master", BRIDGE))


def veth_name(container_id: str) -> str:
    """The host end's name: ``lk`` + the id when it fits in 15 bytes, else + 13 hex of its sha256."""
    room = _IFNAMSIZ - len(VETH_PREFIX)
    if len(container_id) <= room and re.fullmatch(r"[A-Za-z0-9_.-]+", container_id):
        return VETH_PREFIX + container_id
    return VETH_PREFIX + hashlib.sha256(container_id.encode()).hexdigest()[:room]


def _netns_names() -> dict[int, str]:
    """The ids this namespace gave the named namespaces it sees a peer in (``ip netns list``)."""
    return {ns["id"]: ns["name"] for ns in json.loads(_ip("-j", "netns", "list") or "[]") if "id" in ns}


def attachments() -> list[Attachment]:
    """Every container on the bridge, read from the aliases of its ports (the leases)."""
    found: list[Attachment] = []
    if not Path("/sys/class/net", BRIDGE).exists():
        return found
    names = _netns_names()
    for link in _links("master", BRIDGE):
        container_id, _, address = link.get("ifalias", "").partition(" ")
        if link["ifname"].startswith(VETH_PREFIX) and address:
            netns = names.get(link.get("link_netnsid", -1), "")
            found.append(Attachment(container_id, link["ifname"], ipaddress.IPv4Interface(address), netns))
    return sorted(found, key=lambda a: a.address)


@contextmanager
def _allocation_lock() -> Iterator[None]:
    """Hold an exclusive lock on the bridge (its sysfs directory) while choosing an address."""
    fd = os.open(Path("/sys/class/net", BRIDGE), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _free_address() -> ipaddress.IPv4Interface:
    """The lowest address of the subnet that is neither the gateway nor leased."""
    taken = {a.address.ip for a in attachments()} | {GATEWAY.ip}
    for host in SUBNET.hosts():
        if host not in taken:
            return ipaddress.IPv4Interface(f"{host}/{SUBNET.prefixlen}")
    raise Unavailable(f"no free address left in {SUBNET}")


def attach(container_id: str, netns: str | os.PathLike[str]) -> Attachment:
    """Connect the network namespace ``netns`` (a name or a path) to the lab bridge.

    Makes ``eth0`` inside it with the next free address and a default route via the
    bridge, as the CNI bridge plugin's ``ADD`` does. Returns what was made.
    """
    path = netns_path(netns)
    host_veth = veth_name(container_id)
    if Path("/sys/class/net", host_veth).exists():
        raise AlreadyExists(f"container {container_id} is already attached ({host_veth})")
    ensure_bridge()
    with _allocation_lock():
        address = _free_address()
        _ip("link", "add", host_veth, "type", "veth", "peer", "name", CONTAINER_IFNAME, "netns", str(path))
        _ip("link", "set", host_veth, "alias", f"{container_id} {address}")
    try:
        _ip("link", "set", host_veth, "master", BRIDGE, "up")
        _ip("addr", "add", str(address), "dev", CONTAINER_IFNAME, netns=path)
        _ip("link", "set", "lo", "up", netns=path)
        _ip("link", "set", CONTAINER_IFNAME, "up", netns=path)
        _ip("route", "add", "default", "via", str(GATEWAY.ip), netns=path)
    except LabkitError:
        detach(container_id)
        raise
    return Attachment(container_id, host_veth, address, path.name if path.parent == _NETNS_DIR else "")


def detach(container_id: str) -> None:
    """Disconnect a container (CNI ``DEL``): delete its veth pair, which frees its address and port.

    Safe to call twice, and after the namespace is gone (the kernel then already
    destroyed the pair).
    """
    host_veth = veth_name(container_id)
    if Path("/sys/class/net", host_veth).exists():
        _ip("link", "delete", host_veth)


def slirp4netns(pid: int, log: Path) -> subprocess.Popen[bytes]:
    """Connect the network namespace of process ``pid`` to the outside, without root; return the helper.

    ``slirp4netns --configure PID tap0`` (slirp4netns(1)) joins the user and network
    namespaces of ``pid``, creates ``tap0`` there with 10.0.2.100/24 and a default route via
    10.0.2.2, and relays its packets through sockets of its own on the host. It writes ``1``
    to ``--ready-fd`` once ``tap0`` is up, and its messages to ``log``; it must live as long as
    the container does (the container's parent stops it: :mod:`labkit.shim`).
    """
    ready_r, ready_w = os.pipe()
    try:
        with open(log, "ab") as messages:
            helper = subprocess.Popen(["slirp4netns", "--configure", "--mtu=65520", f"--ready-fd={ready_w}", str(pid),
                                       "tap0"], pass_fds=(ready_w,), stdin=subprocess.DEVNULL, stdout=messages,
                                      stderr=messages, start_new_session=True)
    except FileNotFoundError:
        os.close(ready_r)
        raise Unavailable("slirp4netns is not installed (Debian package slirp4netns)") from None
    finally:
        os.close(ready_w)
    try:
        ready = select.select([ready_r], [], [], _SLIRP_READY_TIMEOUT)[0] and os.read(ready_r, 1) == b"1"
    finally:
        os.close(ready_r)
    if not ready:
        helper.kill()
        helper.wait()
        said = log.read_text(errors="replace").strip().splitlines()
        raise Unavailable(f"slirp4netns could not connect pid {pid}: {said[-1] if said else 'no answer'}")
    return helper
