"""Acceptance: labkit publishes what the host's containerd (1.6 on Debian 12, 1.7 on 13) publishes for the same commands.

Both are recorded here, on this machine: the real containerd on a private socket under
the test's lab root, driven with ``ctr`` and watched with ``ctr events``; labkit driven
with its own command line and watched through its journal. The topic sequences must be
equal, and each payload must have the same fields (after Go's ``omitempty``, which is
what ``ctr events`` prints). ``runtime.options`` is left out: it carries the runc shim's
own protobuf options, which labkit's runtime has no use for.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from waiting import Lines, line_probe, oom_probe, subscribed, wait_until

from labkit.events import Exchange
from labkit.paths import registry_address

pytestmark = [pytest.mark.root, pytest.mark.registry, pytest.mark.slow, pytest.mark.tool("containerd", "ctr", "runc")]
RUNTIMES = [pytest.param(name, marks=pytest.mark.tool(name)) for name in ("runc", "crun")]
Shape = tuple[str, Any]


def shape(value: Any) -> Any:
    """The field names of a payload, recursively, with zero values dropped as ``omitempty`` does."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items()) if item not in ("", 0, False, None, [], {})}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    return type(value).__name__


def _without_runtime_options(event: dict[str, Any]) -> dict[str, Any]:
    if isinstance(event.get("runtime"), dict):
        event = {**event, "runtime": {k: v for k, v in event["runtime"].items() if k != "options"}}
    return event


def scenario(run: Callable[..., int], command: Callable[..., Any], stopped: Callable[[str], bool]) -> list[int]:
    """``run --rm`` of ``exit 7``; then a detached task: pause, resume, exec, SIGKILL, delete."""
    statuses = [run("--rm", "r1", "sh", "-c", "exit 7")]
    run("-d", "d1", "sleep", "60")
    command("tasks", "pause", "d1")
    command("tasks", "resume", "d1")
    statuses.append(command("tasks", "exec", "--exec-id", "e1", "d1", "sh", "-c", "exit 3"))
    command("tasks", "kill", "-s", "SIGKILL", "d1")
    wait_until(lambda: stopped("d1"), 10, "d1 did not stop after SIGKILL")
    command("tasks", "delete", "d1")
    command("containers", "delete", "d1")
    return statuses


@pytest.fixture(scope="module")
def containerd_trace(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Shape], list[int]]:
    """What containerd publishes for the scenario, as ``ctr events`` prints it."""
    from labkit.api.client import Client
    from labkit.lab.containerd import Containerd

    image = f"{registry_address()}/lab/busybox:latest"
    with Containerd(tmp_path_factory.mktemp("containerd")) as daemon, Client(daemon.address) as client:
        daemon.pull(image)
        events = subprocess.Popen(["ctr", "--address", str(daemon.address), "events"], stdout=subprocess.PIPE,
                                  text=True)
        output = Lines(events.stdout)
        subscribed(oom_probe(client.publish), line_probe(output))

        def ctr(*args: str) -> int:
            return subprocess.run(["ctr", "--address", str(daemon.address), *args], capture_output=True).returncode

        def stopped(id: str) -> bool:
            listing = subprocess.run(["ctr", "--address", str(daemon.address), "tasks", "ls"], capture_output=True)
            return b"STOPPED" in listing.stdout

        def run(mode: str, id: str, *args: str) -> int:
            return daemon.run(image, id, *args, detach=mode == "-d").returncode

        statuses = scenario(run, ctr, stopped)
        client.publish("/tasks/oom", {"container_id": "probe-end"})  # every line before it is the scenario's
        lines: list[str] = []
        while (line := output.next(10)) is not None and '"probe-end"' not in line:
            lines.append(line)
        events.terminate()
        events.wait()
        assert line is not None, "ctr events never printed the last probe"
    trace = []
    for line in lines:  # DATE TIME +0000 UTC NAMESPACE TOPIC {json}
        topic, payload = line.split(" ", 6)[5:]
        trace.append((topic, shape(_without_runtime_options(json.loads(payload)))))
    return trace, statuses


@pytest.fixture
def labkit_cli(lab_root: Path) -> Iterator[Callable[..., int]]:
    def labkit(*args: str) -> int:
        done = subprocess.run([sys.executable, "-m", "labkit", *args], capture_output=True, text=True)
        sys.stderr.write(done.stderr)  # shown if the test fails: what a command that failed said
        return done.returncode

    yield labkit
    for verb in (("tasks", "kill", "-s", "KILL"), ("tasks", "delete"), ("containers", "delete")):
        for id in ("r1", "d1"):
            labkit(*verb, id)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_same_topics_and_fields_as_containerd(containerd_trace: tuple[list[Shape], list[int]], runtime: str,
                                             lab_root: Path, registry: str, labkit_cli: Callable[..., int]) -> None:
    from labkit import images, snapshots
    from labkit.supervisor import Supervisor

    image = f"{registry}/lab/busybox:latest"
    pulled = images.pull(image, plain_http=True)
    snapshots.unpack(pulled, snapshots.get("overlay", lab_root))  # ctr pull unpacks too
    sub = Exchange(lab_root).subscribe()

    def run(mode: str, id: str, *args: str) -> int:
        return labkit_cli("run", mode, "--runtime", runtime, image, id, "--", *args)

    def stopped(id: str) -> bool:
        return Supervisor().container(id).task().status() == "stopped"

    statuses = scenario(run, labkit_cli, stopped)
    trace = [(e.topic, shape(_without_runtime_options(e.event))) for e in iter(lambda: sub.recv(timeout=1), None)]
    expected, ctr_statuses = containerd_trace
    assert statuses == ctr_statuses == [7, 3]
    assert [topic for topic, _ in trace] == [topic for topic, _ in expected]
    assert trace == expected
