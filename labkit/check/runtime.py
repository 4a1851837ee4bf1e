"""Checks for notebooks 07 (the bundle and runc) and 09 (exec, signals and pause)."""

from __future__ import annotations

import signal
import time
import uuid
from typing import Any

from ..errors import LabkitError
from ..supervisor import Supervisor
from . import hint, passed

__all__ = ["hostname_spec", "stops_on_sigterm"]


def hostname_spec(spec: dict[str, Any]) -> bool:
    """07: a ``config.json`` that runs ``hostname``, prints ``lab07``, allows at most 10 processes
    in the cgroup ``/labkit/ex07``, and can be run detached (``runc create``)."""
    from ..oci import validate

    try:
        validate(spec)
    except LabkitError as err:
        return hint(f"runc would refuse it: {err}")
    process, linux = spec.get("process", {}), spec.get("linux", {})
    if process.get("args") != ["hostname"]:
        return hint(f"process.args is {process.get('args')!r}: the container should run exactly ['hostname']")
    if spec.get("hostname") != "lab07":
        return hint("the top-level `hostname` field is what the container's kernel reports: set it to 'lab07'")
    if "uts" not in [ns.get("type") for ns in linux.get("namespaces", [])]:
        return hint("without its own UTS namespace the container cannot have a hostname: keep {'type': 'uts'}")
    if (linux.get("resources", {}).get("pids") or {}).get("limit") != 10:
        return hint("the process limit lives in linux.resources.pids.limit (runtime-spec, config-linux.md)")
    if linux.get("cgroupsPath") != "/labkit/ex07":
        return hint("linux.cgroupsPath names the container's cgroup: '/labkit/ex07'")
    if process.get("terminal"):
        return hint("a detached container with a terminal needs --console-socket: set process.terminal to False")
    return passed("runc can create it detached: hostname in its own UTS namespace, 10 pids, cgroup /labkit/ex07")


def stops_on_sigterm(args: list[str], image: str) -> bool:
    """09: ``args`` as a container's PID 1 that exits when sent SIGTERM (and not only on SIGKILL)."""
    container = Supervisor().create_container(f"ex09-{uuid.uuid4().hex[:6]}", image, list(args))
    try:
        task = container.new_task()
        task.start()
        time.sleep(0.5)  # let the shell install its handler
        if task.status() != "running":
            return hint(f"PID 1 exited by itself (status {task.wait()}): it should run until it is signalled")
        task.kill(signal.SIGTERM)
        deadline = time.monotonic() + 3
        while task.status() != "stopped" and time.monotonic() < deadline:
            time.sleep(0.05)
        if task.status() != "stopped":
            task.kill(signal.SIGKILL)
            task.wait()
            return hint("PID 1 ignored SIGTERM: the kernel delivers it only to a handler PID 1 installed. "
                        "Try sh -c with `trap 'exit 143' TERM`, and keep the shell free: `sleep 1000 & wait`")
        return passed(f"SIGTERM stopped PID 1: exit status {task.wait()} (its handler ran)")
    finally:
        try:
            container.task().delete()
        except LabkitError:
            pass
        container.delete()
