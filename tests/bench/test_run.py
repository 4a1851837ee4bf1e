"""The runner and the bare-runtime drivers against the real runc and crun."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from labkit.bench.config import DriverSpec, Suite
from labkit.bench.run import run_driver

LIFECYCLE = ("run", "pause", "resume", "stop", "delete")


@pytest.mark.root
@pytest.mark.parametrize("runtime", [pytest.param("runc", marks=pytest.mark.tool("runc")),
                                     pytest.param("crun", marks=pytest.mark.tool("crun"))])
def test_each_iteration_is_a_fresh_container_taken_through_every_command(lab_root: Path, runtime: str) -> None:
    suite = Suite(drivers=(DriverSpec(runtime, 2, 2),), commands=LIFECYCLE, prefix=f"t{os.getpid()}")
    result = run_driver(suite, suite.drivers[0])
    assert result.messages == []
    assert result.completed == 4
    assert all(len(result.durations[c]) == 4 for c in LIFECYCLE)
    assert result.rate > 0
    assert not list((lab_root / runtime).glob(f"t{os.getpid()}-*")), "every container is deleted"
    assert not list((lab_root / "bench" / f"{runtime}-bundles").iterdir())


@pytest.mark.root
@pytest.mark.tool("runc")
def test_a_failed_command_is_counted_and_the_container_cleaned_up(lab_root: Path) -> None:
    # runc cannot exec a program the rootfs lacks: run fails, the rest is skipped, cleanup removes what is left
    suite = Suite(drivers=(DriverSpec("runc", 1, 2),), commands=LIFECYCLE, args=("/no/such/program",),
                  prefix=f"f{os.getpid()}")
    result = run_driver(suite, suite.drivers[0])
    assert result.completed == 0
    assert result.errors == {"run": 2}
    assert "run" not in result.durations and len(result.messages) == 2
    assert "/no/such/program" in result.messages[0]
    assert not list((lab_root / "runc").glob(f"f{os.getpid()}-*"))


@pytest.mark.root
@pytest.mark.tool("runc")
def test_wait_sees_a_process_exit_by_itself(lab_root: Path) -> None:
    suite = Suite(drivers=(DriverSpec("runc", 1, 2),), commands=("run", "wait", "delete"),
                  args=("sleep", "0.05"), prefix=f"w{os.getpid()}")
    result = run_driver(suite, suite.drivers[0])
    assert result.messages == [] and result.completed == 2
    assert len(result.durations["wait"]) == 2


@pytest.mark.root
@pytest.mark.tool("runc")
def test_the_default_bundle_runs_what_labkit_runs(lab_root: Path) -> None:
    from labkit.bench.bundle import container_bundle, default_bundle

    base = default_bundle(lab_root / "bundle")
    assert (base / "rootfs/bin/sleep").is_symlink()  # busybox --install -s
    spec = json.loads(container_bundle(base, lab_root / "one", "bench-0-0", ["sleep", "1"]).joinpath(
        "config.json").read_text())
    assert spec["linux"]["cgroupsPath"] == "/labkit/bench-0-0"
    assert spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"  # containerd's profile, as labkit's
    assert spec["root"] == {"path": str(base / "rootfs"), "readonly": True}
    assert spec["process"]["args"] == ["sleep", "1"] and spec["process"]["terminal"] is False


@pytest.mark.root
@pytest.mark.tool("runc")
def test_the_default_bundle_never_keeps_a_stale_config(lab_root: Path) -> None:
    """A bundle left by an older labkit (no seccomp profile) would time a cheaper container than labkit's."""
    from labkit.bench.bundle import default_bundle

    base = default_bundle(lab_root / "bundle")
    stale = json.loads((base / "config.json").read_text())
    del stale["linux"]["seccomp"]
    (base / "config.json").write_text(json.dumps(stale))
    assert "seccomp" in json.loads(default_bundle(lab_root / "bundle").joinpath("config.json").read_text())["linux"]
    assert sorted(p.name for p in base.iterdir()) == ["config.json", "rootfs"]
