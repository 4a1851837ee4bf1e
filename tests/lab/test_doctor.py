"""``labkit doctor`` says "full" as root here, and "rootless" for an ordinary user."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from labkit import cgroups
from labkit.lab import doctor, learners


@pytest.mark.root
@pytest.mark.tool("runc")
def test_root_on_this_machine_is_the_full_tier() -> None:
    report = doctor.diagnose()
    assert report.tier == "full", str(report)
    assert {c.name for c in report.checks} >= {"root", "user namespaces", "cgroups", "overlay mounts", "runc"}
    assert "tier: full" in str(report)


def test_the_host_layout_is_named() -> None:
    report = doctor.diagnose()
    layout = report.check("cgroup layout").detail
    assert layout.startswith({"v2": "cgroup v2 (unified)", "hybrid": "cgroup v1 controllers with a cgroup2 tree",
                              "v1": "cgroup v1:"}[cgroups.layout()])
    assert report.check("init").detail == ("systemd" if Path("/run/systemd/system").is_dir() else
                                           f"no systemd: PID 1 is {Path('/proc/1/comm').read_text().strip()}")
    if shutil.which("runc"):
        assert report.check("runc").detail.startswith("runc version ")


def test_the_tier_can_be_lowered_but_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    found = doctor.diagnose().tier
    for wanted, expected in (("inspect", "inspect"), ("full", found)):
        doctor.tier.cache_clear()
        monkeypatch.setenv("LABKIT_TIER", wanted)
        assert doctor.tier() == expected
    doctor.tier.cache_clear()


@pytest.fixture
def learner() -> str:
    """An ordinary system user (created once, kept: creating users is slow and harmless)."""
    return learners.ensure_user().pw_name


@pytest.mark.root
@pytest.mark.tool("runc")
def test_an_ordinary_user_gets_the_rootless_tier(learner: str) -> None:
    # The learner cannot read root's checkout: give them a copy of the package, which the doctor
    # runs from with nothing but Debian's python3 (it needs no third-party module).
    with tempfile.TemporaryDirectory(prefix="labkit-doctor-test-") as tmp:
        copy = Path(tmp)
        shutil.copytree(Path(__file__).resolve().parents[2] / "labkit", copy / "labkit")
        subprocess.run(["chmod", "-R", "a+rX", str(copy)], check=True)
        out = _doctor_as(learner, copy)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("tier: rootless"), out.stdout


def _doctor_as(user: str, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    return subprocess.run(["runuser", "-u", user, "--", "env", f"PYTHONPATH={pythonpath}", python, "-m", "labkit", "doctor"],
                          capture_output=True, text=True, cwd="/")
