"""Fixtures of the gRPC API tests: the generated stubs, a private containerd, a labkit server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.api import protos


@pytest.fixture(scope="session", autouse=True)
def stubs() -> None:
    """containerd's stubs, generated once (a no-op when the set-up script already did it)."""
    protos.generate()


@pytest.fixture
def containerd(lab_root: Path, registry: str) -> Iterator[object]:
    """The real containerd under this test's lab root, with the lab's busybox pulled; stopped afterwards."""
    from labkit.lab.containerd import Containerd

    with Containerd(lab_root) as daemon:
        daemon.pull(f"{registry}/lab/busybox:latest")
        yield daemon


@pytest.fixture
def supervisor(lab_root: Path, registry: str) -> Iterator[object]:
    """labkit's supervisor under this test's lab root, with the lab's busybox pulled; containers removed afterwards."""
    import labkit

    labkit.pull(f"{registry}/lab/busybox:latest", plain_http=True)
    supervisor = labkit.Supervisor(lab_root)
    yield supervisor
    for container in supervisor.containers():
        if (container.dir / "task.json").exists():
            task = container.task()
            if task.status() != "stopped":
                task.kill(9)
            task.wait()
            task.delete()
        container.delete()


@pytest.fixture
def labkit_socket(lab_root: Path) -> Iterator[Path]:
    """``labkit serve`` in this process, on ``<lab root>/labkit.sock``; stopped afterwards."""
    from labkit.api.server import serve

    server = serve(root=lab_root)
    yield lab_root / "labkit.sock"
    server.stop(grace=None).wait()
