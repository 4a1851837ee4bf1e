"""``labkit doctor``: what this host lets the lab do, decided by real probes.

The lab adapts to its host (design.md, "Tiers"):

- **full**     — root on Linux: everything, including cgroups and networking.
- **rootless** — user namespaces allowed: namespaces, rootless runc, fetch, unpack.
- **inspect**  — neither (a hosted notebook service): fetch, unpack, specs, diagrams.

Each check runs the thing it asks about (create a user namespace in a child, create
and remove a cgroup, mount an overlay in a private mount namespace) instead of
guessing from versions or configuration files, so its answer is the kernel's own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..paths import CGROUP_PARENT, registry_address

__all__ = ["Check", "Report", "TIERS", "diagnose", "tier"]

#: tiers from least to most capable
TIERS = ("inspect", "rootless", "full")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Report:
    tier: str
    reason: str
    checks: tuple[Check, ...]

    def __str__(self) -> str:
        lines = [f"tier: {self.tier} ({self.reason})", ""]
        for check in self.checks:
            lines.append(f"  [{'ok' if check.ok else '--'}] {check.name}: {check.detail}")
            if not check.ok and check.fix:
                lines.append(f"       fix: {check.fix}")
        return "\n".join(lines)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


def _succeeds(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _check_root() -> Check:
    uid = os.geteuid()
    return Check("root", uid == 0, "running as root" if uid == 0 else f"running as uid {uid}",
                 "run the lab as root for the full tier (cgroups, networking)")


def _check_userns() -> Check:
    ok = _succeeds(["unshare", "--user", "--map-root-user", "true"])
    return Check("user namespaces", ok, "a child can create a user namespace" if ok else "creating a user namespace failed",
                 "allow them: sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0")


def _cgroup_base() -> Path:
    """Where the lab's cgroups go: the pids hierarchy on v1, the unified tree on v2."""
    v1 = Path("/sys/fs/cgroup/pids")
    return v1 if v1.is_dir() else Path("/sys/fs/cgroup")


def _check_cgroups() -> Check:
    probe = _cgroup_base() / CGROUP_PARENT / f"doctor-{os.getpid()}"
    try:
        probe.mkdir(parents=True)
        probe.rmdir()
    except OSError as err:
        return Check("cgroups", False, f"cannot create {probe}: {err.strerror}",
                     "run as root, or delegate a cgroup subtree to this user")
    version = "v1" if _cgroup_base().name == "pids" else "v2"
    return Check("cgroups", True, f"cgroup {version}: can create and remove groups under {probe.parent}")


def _check_overlay() -> Check:
    with tempfile.TemporaryDirectory(prefix="labkit-doctor-") as tmp:
        for d in ("lower", "upper", "work", "merged"):
            os.mkdir(f"{tmp}/{d}")
        options = f"lowerdir={tmp}/lower,upperdir={tmp}/upper,workdir={tmp}/work"
        mount = ["mount", "-t", "overlay", "overlay", "-o", options, f"{tmp}/merged"]
        # In a private mount namespace: the probe's mount vanishes with the child.
        prefix = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--mount"]
        ok = _succeeds(prefix + mount)
    return Check("overlay mounts", ok, "an overlay can be mounted" if ok else "mounting an overlay failed",
                 "the overlay snapshotter is unavailable; the native one still works")


def _check_program(name: str, package: str, needed_for: str) -> Check:
    path = shutil.which(name)
    return Check(name, path is not None, f"found at {path}" if path else "not installed",
                 f"apt-get install {package} ({needed_for})")


def _check_registry() -> Check:
    # The standard library, not httpx: the doctor must run on a host where nothing else is installed yet.
    address = registry_address()
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
            ok = response.status == 200
    except OSError:
        ok = False
    return Check("lab registry", ok, f"answers at http://{address}/v2/" if ok else f"nothing answers at {address}",
                 "labkit lab up")


def diagnose() -> Report:
    """Run every check and decide the tier."""
    checks = (
        _check_root(),
        _check_userns(),
        _check_cgroups(),
        _check_overlay(),
        _check_program("runc", "runc", "the runtime"),
        _check_program("crun", "crun", "the second runtime"),
        _check_program("skopeo", "skopeo", "comparisons in notebook 05"),
        _check_program("umoci", "umoci", "comparisons in notebook 06"),
        _check_program("dot", "graphviz", "diagrams"),
        _check_registry(),
    )
    ok = {c.name: c.ok for c in checks}
    if ok["root"] and ok["cgroups"] and ok["runc"]:
        return Report("full", "root, cgroups and runc: everything", checks)
    if ok["user namespaces"] and ok["runc"]:
        return Report("rootless", "user namespaces and runc, without root: rootless containers", checks)
    return Report("inspect", "no root and no user namespaces: fetch, unpack, specs and diagrams only", checks)


@cache
def tier() -> str:
    """This host's tier, probed once per process. ``$LABKIT_TIER`` can only lower it (to rehearse a lesser host)."""
    found = diagnose().tier
    wanted = os.environ.get("LABKIT_TIER", found)
    return min(found, wanted, key=TIERS.index) if wanted in TIERS else found
