"""The lab's own registry: Debian's ``docker-registry`` (CNCF Distribution) on loopback.

A learner pulls from a registry that the lab starts itself, so nothing depends on the
internet and every HTTP exchange can be watched. It listens on
``labkit.paths.registry_address()`` (``127.0.0.1:5000`` unless ``$LABKIT_REGISTRY``)
and keeps its storage under ``<lab root>/registry/``. It runs detached, in its own
session, so that it outlives the command (or notebook) that started it (``labkit.lab.daemon``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import Unavailable
from ..paths import default_root, registry_address
from . import daemon

__all__ = ["RegistryStatus", "start", "stop", "status", "catalog"]

PROGRAM = "docker-registry"

CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: {address}
"""


@dataclass(frozen=True)
class RegistryStatus:
    address: str
    pid: int | None  # the lab's registry process, if it runs
    serving: bool  # something answers the distribution API at the address

    def __str__(self) -> str:
        if self.serving and self.pid:
            return f"registry: serving at http://{self.address}/v2/ (pid {self.pid})"
        if self.serving:
            return f"registry: a registry not started by this lab root answers at http://{self.address}/v2/"
        return f"registry: not running (expected at {self.address})"


def _dir(root: Path | None) -> Path:
    return (root or default_root()) / "registry"


def status(root: Path | None = None) -> RegistryStatus:
    """Whether the lab's registry runs, and whether the address answers."""
    address = registry_address()
    return RegistryStatus(address, daemon.pid(_dir(root) / "registry.pid", PROGRAM), _serving(address))


def _serving(address: str) -> bool:
    try:
        return httpx.get(f"http://{address}/v2/", timeout=1).status_code in (200, 401)
    except httpx.TransportError:
        return False


def start(root: Path | None = None) -> RegistryStatus:
    """Start the registry unless something already serves the address; wait until it answers."""
    current = status(root)
    if current.serving:
        return current
    program = shutil.which(PROGRAM)
    if program is None:
        raise Unavailable(f"{PROGRAM} is not installed (Debian package docker-registry)")
    directory = _dir(root)
    (directory / "storage").mkdir(parents=True, exist_ok=True)
    config = directory / "config.yml"
    config.write_text(CONFIG.format(storage=directory / "storage", address=current.address))
    daemon.start([program, "serve", str(config)], directory / "registry.pid", directory / "registry.log",
                 ready=lambda: _serving(current.address))
    return status(root)


def stop(root: Path | None = None) -> None:
    """Stop the registry this lab root started (SIGTERM, then SIGKILL after a grace period)."""
    daemon.stop(_dir(root) / "registry.pid", PROGRAM)


def catalog(address: str | None = None) -> dict[str, list[str]]:
    """Every repository the registry holds, with its tags (``_catalog`` is a Docker extension)."""
    base = f"http://{address or registry_address()}/v2"
    with httpx.Client(timeout=5) as client:
        repositories = client.get(f"{base}/_catalog").json().get("repositories") or []
        return {r: sorted(client.get(f"{base}/{r}/tags/list").json().get("tags") or []) for r in repositories}
