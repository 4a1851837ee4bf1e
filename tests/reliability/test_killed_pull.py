"""A pull killed with SIGKILL at each of its steps, or out of disk: the next pull succeeds, leaves no mess.

The pull runs as its own ``labkit pull`` process through a fault proxy in front of the lab
registry. A fault holds it at one chosen step (a request left unanswered, or a layer that
stalls after 300 KB); once the proxy has seen that request (and, mid-layer, once the bytes are in
``content/ingest``) the process is killed. Then a pull in this process must succeed and
leave the stores as test_faults.py requires them: nothing in ``ingest/``, every blob one
the image needs and proven. A layer cut off by the kill is resumed with ``Range``, from
the bytes the killed pull left (content.py, "An ingest outlives a pull that was killed").
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from diskfull import fill
from faultproxy import FaultProxy
from waiting import wait_until

from labkit.cli import main
from labkit.images import ImageStore, pull
from reliability.test_faults import IMAGE, assert_consistent

pytestmark = [pytest.mark.registry]

HELD = 60.0  # seconds a fault holds the pull: far longer than the test waits for the kill


def _ingested(root: Path, digest: str) -> int:
    """Bytes of ``digest`` in ``content/ingest`` (0 if none yet)."""
    return sum(path.stat().st_size for path in (root / "content/ingest").glob(f"sha256-{digest.split(':')[1]}-*"))


#: step -> (hold the pull there, the condition under which to kill it)
STEPS: dict[str, tuple[Callable[[FaultProxy, dict], object], Callable[[FaultProxy, dict, Path], bool]]] = {
    "resolving the tag": (lambda p, b: p.hang(HELD, match="/manifests/", method="HEAD"),
                          lambda p, b, root: bool(p.seen("HEAD", "/manifests/"))),
    "fetching the manifest": (lambda p, b: p.hang(HELD, match="/manifests/sha256:", method="GET"),
                              lambda p, b, root: bool(p.seen("GET", "/manifests/sha256:"))),
    "fetching the config": (lambda p, b: p.hang(HELD, match=b["config"]),
                            lambda p, b, root: bool(p.seen("GET", b["config"]))),
    "in the middle of a layer": (lambda p, b: p.stall(HELD, match=b["big"], after=300_000),
                                 lambda p, b, root: _ingested(root, b["big"]) >= 200_000),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS, ids=list(STEPS))
def test_a_pull_killed_at_any_step_is_finished_by_the_next(registry: str, lab_root: Path, blobs: dict,
                                                           step: str) -> None:
    hold, ready = STEPS[step]
    with FaultProxy(registry) as proxy:
        hold(proxy, blobs)
        child = subprocess.Popen([sys.executable, "-m", "labkit", "pull", "--plain-http", f"{proxy.address}/{IMAGE}"],
                                 env={**os.environ, "LABKIT_ROOT": str(lab_root)},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        wait_until(lambda: ready(proxy, blobs, lab_root) or child.poll() is not None, 30, f"the pull never got to {step}")
        assert child.poll() is None and ready(proxy, blobs, lab_root), f"the pull ended before {step}"
        child.kill()
        child.wait(timeout=10)
    left = _ingested(lab_root, blobs["big"])
    with FaultProxy(registry) as proxy:
        image = pull(f"{proxy.address}/{IMAGE}", plain_http=True)
        big = proxy.seen("GET", blobs["big"])
    assert [layer.digest for layer in image.layers] == blobs["layers"]
    assert_consistent(lab_root, blobs)
    assert left or step != "in the middle of a layer"
    if left:  # the retry asked for the rest only
        assert [seen.headers.get("Range") for seen in big] == [f"bytes={left}-"] and big[0].status == 206


@pytest.mark.root
def test_a_full_disk_while_downloading_is_one_line_and_cleans_up(registry: str, small_disk: Path, blobs: dict,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """ENOSPC mid-layer: one line naming the blob, the partial blob gone; once there is room, the pull works."""
    root = small_disk / "lab"
    monkeypatch.setenv("LABKIT_ROOT", str(root))
    filler = fill(small_disk, leave=400_000)  # the big layer is a megabyte
    assert main(["pull", "--plain-http", f"{registry}/{IMAGE}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("labkit: no space left on the device writing blob sha256:") and err.count("\n") == 1, err
    assert list((root / "content/ingest").iterdir()) == [] and ImageStore(root).images() == []
    filler.unlink()
    assert main(["pull", "--plain-http", f"{registry}/{IMAGE}"]) == 0
    assert_consistent(root, blobs)
