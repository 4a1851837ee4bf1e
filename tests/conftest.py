"""Shared fixtures, and the rule for tests that need something from the host.

A test marked ``root``, ``tool(NAME)`` or ``registry`` needs that from the machine. On a
developer's machine a missing requirement skips the test with the reason; in CI
(``CI=true``) it fails it, because CI installs and starts everything itself and a
missing piece there is a broken set-up, not a reason to test less.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ledger
import pytest
from diskfull import mounted

from labkit import cgroups, net
from labkit.paths import registry_address

IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI lacks a requirement: {reason}", pytrace=False)
    pytest.skip(reason)


def _registry_up(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") and os.geteuid() != 0:
        _missing("needs root")
    for marker in item.iter_markers("tool"):
        for tool in marker.args:
            if shutil.which(tool) is None:
                _missing(f"needs the program {tool!r}")
    if item.get_closest_marker("registry") and not _registry_up(registry_address()):
        _missing(f"needs the lab registry at {registry_address()} (run `labkit lab up`)")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start this run's ledger of what it makes on the host (tests/ledger.py), for the leftovers check."""
    ledger.start()


@pytest.fixture(scope="session", autouse=True)
def recorded() -> Iterator[None]:
    """Record the cgroups, netns and veths tests make directly with labkit, in the ledger (behaviour unchanged)."""
    create, add_netns, attach = cgroups.create, net.add_netns, net.attach

    def recording_create(name: str, **limits: Any) -> cgroups.Cgroup:
        ledger.LEDGER.record("cgroup", name)
        return create(name, **limits)

    def recording_add_netns(name: str) -> Path:
        path = add_netns(name)
        ledger.LEDGER.record("netns", path.name)
        return path

    def recording_attach(container_id: str, netns: Any) -> net.Attachment:
        attached = attach(container_id, netns)
        ledger.LEDGER.record("veth", attached.host_veth)
        return attached

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cgroups, "create", recording_create)
        patch.setattr(net, "add_netns", recording_add_netns)
        patch.setattr(net, "attach", recording_attach)
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """tests/test_zz_leftovers.py checks what the whole run left on the machine, so it runs last."""
    items.sort(key=lambda item: item.path.name == "test_zz_leftovers.py")  # stable: the rest keep their order


@pytest.fixture
def lab_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, private lab root for one test (``$LABKIT_ROOT``)."""
    root = tmp_path / "labroot"
    root.mkdir()
    monkeypatch.setenv("LABKIT_ROOT", str(root))
    yield root


@pytest.fixture
def registry() -> str:
    """``host:port`` of the lab's registry, started by ``labkit lab up`` (mark the test ``registry``)."""
    return registry_address()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs to fill, at ``tmp_path/disk`` (tests/diskfull.py; mark the test ``root``)."""
    with mounted(tmp_path / "disk") as disk:
        yield disk
