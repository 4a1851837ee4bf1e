"""The fault-proxy suite: a flaky registry either costs a retry or ends in one clear error, never a mess.

Every pull goes through ``FaultProxy`` (tests/faultproxy.py) in front of the real lab
registry and fetches ``lab/layers`` (a config and four layers, one of them 1 MB). A
fault that stops is survived: the pull retries (429, 5xx, a dropped connection),
resumes a blob where it broke off (a cut or short body) and ends with the same image a
clean pull gives. A fault that never stops ends the pull with one line naming what
failed, and leaves the stores consistent:

- the image store is unchanged (no record of a half-pulled image);
- nothing is left in ``content/ingest``, and every committed blob is one the image
  needs, whose bytes hash to its name. A failure before the first blob leaves the
  content store exactly as it was; a failure in one layer keeps the layers that were
  proven (content-addressed, as containerd keeps them), so the next pull fetches only
  what is missing.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from faultproxy import Fault, FaultProxy

import labkit
from labkit.images import ImageStore, pull

pytestmark = [pytest.mark.registry]

IMAGE = "lab/layers:latest"
Setup = Callable[[FaultProxy, dict], Fault | tuple[Fault, ...]]


def content(root: Path) -> dict[str, bytes]:
    """Every committed blob, by file name."""
    directory = root / "content/blobs/sha256"
    return {path.name: path.read_bytes() for path in directory.iterdir()} if directory.is_dir() else {}


def assert_consistent(root: Path, blobs: dict) -> None:
    """Nothing half-written, nothing unproven, nothing foreign."""
    ingest = root / "content/ingest"
    assert not ingest.is_dir() or list(ingest.iterdir()) == []
    wanted = {d.split(":")[1] for d in (blobs["manifest"], blobs["config"], *blobs["layers"])}
    for name, data in content(root).items():
        assert hashlib.sha256(data).hexdigest() == name and name in wanted


RECOVERABLE: dict[str, Setup] = {
    "no answer to resolve": lambda p, b: p.drop(match="/manifests/", method="HEAD", times=2),
    "manifest cut mid-body": lambda p, b: p.cut(match="/manifests/sha256:", after=100),
    "layer cut mid-body, three times": lambda p, b: p.cut(match=b["big"], after=300_000, times=3),
    "every blob cut before its first byte": lambda p, b: p.cut(match="/blobs/", after=0, times=5),
    "layer truncated, whole in HTTP": lambda p, b: p.truncate(match=b["big"], after=500_000),
    "layer truncated by a server that ignores Range": lambda p, b: (p.truncate(match=b["big"], after=500_000),
                                                                    p.ignore_range(match=b["big"])),
    "every request delayed": lambda p, b: p.delay(0.2, times=7),  # resolve, the manifest, five blobs
    "429 with Retry-After": lambda p, b: p.status(429, match="/blobs/", times=2, headers={"Retry-After": "1"}),
    "500 on the manifest": lambda p, b: p.status(500, match="/manifests/sha256:"),
    "502 on the config": lambda p, b: p.status(502, match=b["config"]),
    "503 on the layers": lambda p, b: p.status(503, match="/blobs/", times=3),
    "504 on resolve": lambda p, b: p.status(504, match="/manifests/", method="HEAD"),
}


@pytest.mark.parametrize("fault", RECOVERABLE, ids=list(RECOVERABLE))
def test_a_fault_that_stops_costs_a_retry(registry: str, lab_root: Path, blobs: dict, fault: str) -> None:
    with FaultProxy(registry) as proxy:
        spent = RECOVERABLE[fault](proxy, blobs)
        image = pull(f"{proxy.address}/{IMAGE}", plain_http=True)
    assert all(f.times == 0 for f in (spent if isinstance(spent, tuple) else (spent,))), "a fault never fired"
    assert [layer.digest for layer in image.layers] == blobs["layers"]
    assert image.manifest_descriptor.digest == blobs["manifest"]
    assert len(content(lab_root)) == 2 + len(blobs["layers"])
    assert_consistent(lab_root, blobs)


# (fault, the error kind, what its message must say, whether it strikes before any blob is committed)
FATAL: dict[str, tuple[Setup, type[labkit.LabkitError], str, bool]] = {
    "503 for ever": (lambda p, b: p.status(503, match="/manifests/", times=100), labkit.Unavailable, "503", True),
    "429 for ever": (lambda p, b: p.status(429, times=100, headers={"Retry-After": "0"}),
                     labkit.Unavailable, "429 Too Many Requests", True),
    "no answer, ever": (lambda p, b: p.drop(match="/manifests/", times=100), labkit.Unavailable,
                        "Server disconnected", True),
    "manifest corrupted": (lambda p, b: p.tamper(match="/manifests/sha256:"), labkit.DataCorrupted,
                           "manifest sha256:.* is corrupt", True),
    "manifest truncated": (lambda p, b: p.truncate(match="/manifests/sha256:", after=200), labkit.DataCorrupted,
                           "its 200 bytes hash to", True),
    "layer corrupted": (lambda p, b: p.tamper(match=b["big"]), labkit.DataCorrupted,
                        "blob sha256:.* is corrupt.*not committed", False),
    "layer truncated for ever": (lambda p, b: p.truncate(match=b["big"], after=0, times=100),
                                 labkit.Unavailable, "fetching blob sha256:.*: body ended early", False),
    "layer cut for ever": (lambda p, b: p.cut(match=b["big"], after=0, times=100), labkit.Unavailable,
                           "fetching blob sha256:", False),
    "layer gone (404)": (lambda p, b: p.status(404, match=b["big"]), labkit.NotFound,
                         "fetching blob sha256:.*: 404", False),
}


@pytest.mark.parametrize("fault", FATAL, ids=list(FATAL))
def test_a_fault_that_never_stops_is_one_clear_error(registry: str, lab_root: Path, blobs: dict, fault: str) -> None:
    setup, kind, message, before_blobs = FATAL[fault]
    before = content(lab_root)
    with FaultProxy(registry) as proxy:
        setup(proxy, blobs)
        with pytest.raises(kind, match=message) as failure:
            pull(f"{proxy.address}/{IMAGE}", plain_http=True)
    assert "\n" not in str(failure.value)
    assert ImageStore().images() == []
    assert_consistent(lab_root, blobs)
    if before_blobs:
        assert content(lab_root) == before
    else:
        assert blobs["big"].split(":")[1] not in content(lab_root)


def test_after_a_failed_pull_the_next_one_fetches_only_what_is_missing(registry: str, lab_root: Path,
                                                                       blobs: dict) -> None:
    with FaultProxy(registry) as proxy:
        proxy.tamper(match=blobs["big"])
        with pytest.raises(labkit.DataCorrupted):
            pull(f"{proxy.address}/{IMAGE}", plain_http=True)
        kept = len(content(lab_root))
        proxy.requests.clear()
        pull(f"{proxy.address}/{IMAGE}", plain_http=True)
        fetched = [seen.path.rsplit("/", 1)[1] for seen in proxy.seen("GET", "/blobs/")]
    assert kept + len(fetched) == 2 + len(blobs["layers"]) and blobs["big"] in fetched
    assert_consistent(lab_root, blobs)


def test_the_command_line_says_one_line_and_exits_non_zero(registry: str, lab_root: Path, blobs: dict) -> None:
    with FaultProxy(registry) as proxy:
        proxy.tamper(match=blobs["big"])
        result = subprocess.run([sys.executable, "-m", "labkit", "pull", "--plain-http", f"{proxy.address}/{IMAGE}"],
                                capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"labkit: blob {blobs['big']} is corrupt")
    assert ImageStore().images() == []
