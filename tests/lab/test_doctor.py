"""``labkit doctor`` says "full" as root here, and "rootless" for an ordinary user."""

from __future__ import annotations

import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from labkit.lab import doctor

LEARNER = "labkit-learner"


@pytest.mark.root
@pytest.mark.tool("runc")
def test_root_on_this_machine_is_the_full_tier() -> None:
    report = doctor.diagnose()
    assert report.tier == "full", str(report)
    assert {c.name for c in report.checks} >= {"root", "user namespaces", "cgroups", "overlay mounts", "runc"}
    assert "tier: full" in str(report)


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
    try:
        pwd.getpwnam(LEARNER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--create-home", LEARNER], check=True)
    return LEARNER


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
