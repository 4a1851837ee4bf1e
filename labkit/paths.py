"""Where the lab keeps its state, and the names it gives to what it makes on the host.

Everything labkit writes lives under one root (design.md, "State on disk"):
``/var/lib/labkit`` for root, ``~/.local/share/labkit`` for anyone else, or
``$LABKIT_ROOT``. What it must create outside that root — cgroups, network
namespaces, interfaces, runc's state — carries the names below, so that
``labkit lab clean`` can find and remove exactly what the lab made and nothing else.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~9 ms); type checkers read it as True
if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "default_root",
    "lab_root",
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


def lab_root() -> str:
    """The lab's root: ``$LABKIT_ROOT``, else ``/var/lib/labkit`` as root, else under ``~/.local/share``.

    A string, in ``os.path`` terms: the ``labkit`` command's client (``labkit.cli.forkserver``)
    finds its server's socket here on every command, and importing pathlib would cost it ~10 ms.
    """
    if env := os.environ.get("LABKIT_ROOT"):
        return env
    if os.geteuid() == 0:
        return "/var/lib/labkit"
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return os.path.join(data_home, "labkit")


def default_root() -> Path:
    """The lab's root (:func:`lab_root`) as a ``Path``."""
    from pathlib import Path  # on call: see lab_root

    return Path(lab_root())


def registry_address() -> str:
    """``host:port`` of the lab's registry: ``$LABKIT_REGISTRY`` or ``127.0.0.1:5000``."""
    return os.environ.get("LABKIT_REGISTRY", "127.0.0.1:5000")
