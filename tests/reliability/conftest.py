"""Reliability fixtures: the authenticating registries of tests/remotes, lab clean of a test's root, and the
digests of the image the fault suites pull (``blobs``).

``labkit lab clean`` is what a learner runs after a crash; here it also tidies up after a
test that failed half-way. It sweeps every cgroup under ``labkit/`` and the lab's
network, whoever made them, so when anything else of the lab exists on the machine
(another developer's run, or an earlier test's leak, which test_zz_leftovers must still
see) the sweep is narrowed to the cgroups named after this test's containers.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from remotes.conftest import auth_storage, basic_registry, token_registry, token_server  # noqa: F401 (fixtures)

from labkit.lab import clean as lab_clean
from labkit.paths import CGROUP_PARENT, NETNS_PREFIX, VETH_PREFIX, registry_address

#: ``clean()`` for this test's lab root, narrowed to its own containers when others are at work
Clean = Callable[[], list[str]]


def _names(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except FileNotFoundError:  # another run removed it meanwhile
        return []


def _ids(root: Path) -> set[str]:
    """The containers of this lab root: its records and the runtimes' state."""
    return {name for sub in ("containers", "runc", "crun") for name in _names(root / sub)}


@pytest.fixture
def lab_clean_here(lab_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clean]:
    """``lab clean`` of this test's root, to call in the test; it runs again afterwards if anything is left."""

    def run() -> list[str]:
        groups = [parent / name for parent in lab_clean.CGROUP_MOUNT.glob(f"*/{CGROUP_PARENT}")
                  for name in _names(parent)]
        ours = [group for group in groups if group.name in _ids(lab_root)]
        network = [*Path("/run/netns").glob(f"{NETNS_PREFIX}*"), *Path("/sys/class/net").glob(f"{VETH_PREFIX}*")]
        with monkeypatch.context() as patch:
            if len(ours) != len(groups) or network:
                patch.setattr(lab_clean, "_lab_cgroups", lambda: ours)
                patch.setattr(lab_clean, "_network", lambda: iter(()))
            return lab_clean.clean(lab_root)

    yield run
    if _ids(lab_root):
        run()


@pytest.fixture(scope="module")
def blobs() -> dict:
    """The image's manifest, config and layer digests, straight from the registry."""
    registry = registry_address()
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    response = httpx.get(f"http://{registry}/v2/lab/layers/manifests/latest", headers={"Accept": accept})
    manifest = response.json()
    layers = [layer["digest"] for layer in manifest["layers"]]
    big = max(manifest["layers"], key=lambda layer: layer["size"])["digest"]
    return {"manifest": "sha256:" + hashlib.sha256(response.content).hexdigest(),
            "config": manifest["config"]["digest"], "layers": layers, "big": big}
