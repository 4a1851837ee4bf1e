"""Where the lab keeps its state, and the names it gives to what it makes on the host.

Everything labkit writes lives under one root (design.md, "State on disk"):
``/var/lib/labkit`` for root, ``~/.local/share/labkit`` for anyone else, or
``$LABKIT_ROOT``. What it must create outside that root — cgroups, network
namespaces, interfaces, runc's state — carries the names below, so that
``labkit lab clean`` can find and remove exactly what the lab made and nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "default_root",
    "registry_address",
    "CGROUP_PARENT",
    "NETNS_PREFIX",
    "BRIDGE",
    "VETH_PREFIX",
    "NAMESPACE",
]

#: cgroups made by the lab live under this group of every hierarchy (v1) or of the v2 tree.
CGROUP_PARENT = "labkit"
#: named network namespaces (``/run/netns/labkit-*``) made by the lab.
NETNS_PREFIX = "labkit-"
#: the host bridge the lab's containers are attached to.
BRIDGE = "labkit0"
#: host-side veth interfaces start with this (an interface name has at most 15 bytes).
VETH_PREFIX = "lk"
#: containerd's namespace, shown in every event envelope; labkit has only one.
NAMESPACE = "default"


def default_root() -> Path:
    """The lab's root: ``$LABKIT_ROOT``, else ``/var/lib/labkit`` as root, else ``~/.local/share/labkit``.

    It is the default only: every labkit object that keeps state takes its root as an argument
    (``Supervisor(root)``, ``pull(ref, root=...)``, ``labkit --root DIR``).
    """
    if env := os.environ.get("LABKIT_ROOT"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/labkit")
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share"
    return Path(data_home) / "labkit"


def registry_address() -> str:
    """``host:port`` of the lab's registry: ``$LABKIT_REGISTRY`` or ``127.0.0.1:5000``."""
    return os.environ.get("LABKIT_REGISTRY", "127.0.0.1:5000")
