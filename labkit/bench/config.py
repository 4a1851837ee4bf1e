"""The benchmark's YAML format, in bucketbench's spirit (reference.md, "Bucketbench").

A suite names what to run (an image for the drivers that pull, a bundle for the bare
runtimes), the drivers with their ``threads`` and ``iterations``, and the commands
to time, in order, on each fresh container::

    name: lifecycle
    image: 127.0.0.1:5000/lab/busybox:latest   # labkit, labkit-cli and ctr pull this
    bundle: null          # runc and crun: a bundle dir; null builds one from busybox-static
    args: [sleep, "600"]  # a long-running process, so that pause and stop mean something
    prefix: bench         # containers are named <prefix>-<thread>-<iteration>
    drivers:
      - {type: runc, threads: 2, iterations: 10}
      - {type: labkit, threads: 2, iterations: 10}
    commands: [run, stop, delete]

The commands follow the container lifecycle (runtime spec, runtime.md "Lifecycle"),
so a suite is checked against it when it is loaded: it starts with ``run``, ``pause``
needs a running container, ``resume`` a paused one, ``stop`` (SIGKILL) and ``wait``
(for the process to exit by itself) a running one, and ``delete`` a stopped one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import InvalidArgument

__all__ = ["COMMANDS", "DRIVERS", "DEFAULT_SUITE", "DriverSpec", "Suite", "parse", "load"]

#: each command and the lifecycle move it makes: (state it needs, state it leaves)
_MOVES = {
    "run": (None, "running"),
    "pause": ("running", "paused"),
    "resume": ("paused", "running"),
    "stop": ("running", "stopped"),
    "wait": ("running", "stopped"),
    "delete": ("stopped", None),
}
COMMANDS = tuple(_MOVES)
DRIVERS = ("labkit", "labkit-cli", "runc", "crun", "ctr")
#: the suite ``labkit bench`` runs when it is given no file
DEFAULT_SUITE = Path(__file__).resolve().parents[2] / "bench" / "lifecycle.yaml"


@dataclass(frozen=True)
class DriverSpec:
    """One driver of a suite and how hard to push it."""

    type: str
    threads: int = 1
    iterations: int = 10


@dataclass(frozen=True)
class Suite:
    """A whole benchmark: what to run, with which drivers, timing which commands."""

    drivers: tuple[DriverSpec, ...]
    commands: tuple[str, ...]
    name: str = "bench"
    image: str | None = None
    bundle: Path | None = None
    args: tuple[str, ...] = ("sleep", "600")
    prefix: str = "bench"
    plain_http: bool = True


def _check_commands(commands: tuple[str, ...]) -> None:
    state: str | None = None
    for command in commands:
        if command not in _MOVES:
            raise InvalidArgument(f"unknown bench command {command!r} (one of: {', '.join(COMMANDS)})")
        needs, leaves = _MOVES[command]
        if state != needs:
            raise InvalidArgument(f"bench command {command!r} needs a {needs or 'new'} container, "
                                  f"but after {' '.join(commands[:commands.index(command)]) or 'nothing'} "
                                  f"it is {state or 'not created'}")
        state = leaves


def _driver(entry: Any) -> DriverSpec:
    if not isinstance(entry, dict) or entry.get("type") not in DRIVERS:
        raise InvalidArgument(f"bench driver {entry!r}: needs a type, one of {', '.join(DRIVERS)}")
    spec = DriverSpec(entry["type"], int(entry.get("threads", 1)), int(entry.get("iterations", 10)))
    if spec.threads < 1 or spec.iterations < 1:
        raise InvalidArgument(f"bench driver {spec.type}: threads and iterations must be at least 1")
    return spec


def parse(text: str) -> Suite:
    """Read a suite from YAML text; raise ``InvalidArgument`` naming the first problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InvalidArgument(f"bench suite is not valid YAML: {err}") from None
    if not isinstance(data, dict) or not data.get("drivers") or not data.get("commands"):
        raise InvalidArgument("bench suite needs a mapping with 'drivers' and 'commands'")
    known = {"name", "image", "bundle", "args", "prefix", "plain_http", "drivers", "commands"}
    if unknown := sorted(set(data) - known):
        raise InvalidArgument(f"bench suite: unknown key(s) {', '.join(unknown)}")
    commands = tuple(str(c) for c in data["commands"])
    _check_commands(commands)
    drivers = tuple(_driver(entry) for entry in data["drivers"])
    needs_image = {"labkit", "labkit-cli", "ctr"} & {d.type for d in drivers}
    if needs_image and not data.get("image"):
        raise InvalidArgument(f"bench suite: driver(s) {', '.join(sorted(needs_image))} need an 'image'")
    return Suite(
        drivers=drivers,
        commands=commands,
        name=str(data.get("name", "bench")),
        image=data.get("image"),
        bundle=Path(data["bundle"]) if data.get("bundle") else None,
        args=tuple(str(a) for a in data.get("args", Suite.args)),
        prefix=str(data.get("prefix", "bench")),
        plain_http=bool(data.get("plain_http", True)),
    )


def load(path: Path | str | None = None) -> Suite:
    """Read a suite from a YAML file (default: the project's ``bench/lifecycle.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_SUITE
    try:
        return parse(path.read_text())
    except FileNotFoundError:
        raise InvalidArgument(f"bench suite {path}: no such file") from None
