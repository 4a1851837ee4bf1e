"""The lab's own registry: Debian's ``docker-registry`` (CNCF Distribution) on loopback.

A learner pulls from a registry that the lab starts itself, so nothing depends on the
internet and every HTTP exchange can be watched. It listens on
``labkit.paths.registry_address()`` (``127.0.0.1:5000`` unless ``$LABKIT_REGISTRY``)
and keeps its storage under ``<lab root>/registry/``. It runs detached, in its own
session, so that it outlives the command (or notebook) that started it; its pid file
lets ``labkit lab down`` stop exactly that process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import Unavailable
from ..paths import default_root, registry_address

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


def _pid(root: Path | None) -> int | None:
    """The pid in the pid file, if that process is still the registry (pids get reused)."""
    try:
        pid = int((_dir(root) / "registry.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if PROGRAM.encode() in cmdline else None


def _serving(address: str) -> bool:
    try:
        return httpx.get(f"http://{address}/v2/", timeout=1).status_code in (200, 401)
    except httpx.TransportError:
        return False


def status(root: Path | None = None) -> RegistryStatus:
    """Whether the lab's registry runs, and whether the address answers."""
    address = registry_address()
    return RegistryStatus(address, _pid(root), _serving(address))


def start(root: Path | None = None, timeout: float = 15.0) -> RegistryStatus:
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
    with open(directory / "registry.log", "ab") as log:
        process = subprocess.Popen([program, "serve", str(config)], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=log, start_new_session=True)
    (directory / "registry.pid").write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while not _serving(current.address):
        if process.poll() is not None or time.monotonic() > deadline:
            raise Unavailable(f"{PROGRAM} did not start at {current.address}; see {directory / 'registry.log'}")
        time.sleep(0.1)
    return status(root)


def stop(root: Path | None = None) -> None:
    """Stop the registry this lab root started (SIGTERM, then SIGKILL after a grace period)."""
    pid = _pid(root)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if _pid(root) is None:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    (_dir(root) / "registry.pid").unlink(missing_ok=True)


def catalog(address: str | None = None) -> dict[str, list[str]]:
    """Every repository the registry holds, with its tags (``_catalog`` is a Docker extension)."""
    base = f"http://{address or registry_address()}/v2"
    with httpx.Client(timeout=5) as client:
        repositories = client.get(f"{base}/_catalog").json().get("repositories") or []
        return {r: sorted(client.get(f"{base}/{r}/tags/list").json().get("tags") or []) for r in repositories}
