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

from .. import cgroups
from ..errors import LabkitError
from ..paths import registry_address

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


def _check_cgroups() -> Check:
    """Create and remove a group the way the lab does (:mod:`labkit.cgroups`), on whatever layout the host has."""
    try:
        group = cgroups.Cgroup(f"doctor-{os.getpid()}")
        group.create().remove()
    except (LabkitError, OSError) as err:
        return Check("cgroups", False, f"cannot create one: {err}", _delegation_fix())
    return Check("cgroups", True, f"can create and remove groups under {group.dirs()[0].parent}")


def _delegation_fix() -> str:
    """What gives an ordinary user cgroups of its own, on this host."""
    if os.geteuid() == 0:
        return "the kernel refused root: see the error above"
    if cgroups.version() != 2:
        return "cgroup v1 delegates nothing to ordinary users: run the lab as root, or on a cgroup v2 host"
    if not _systemd():
        return "delegate a cgroup v2 subtree to this user (chown a group and its cgroup.procs to it)"
    return ("start the lab in a delegated scope: `systemd-run --user --scope -p Delegate=yes ./run lab` "
            "(needs this user's systemd: log in, or `loginctl enable-linger USER` as root)")


def _systemd() -> bool:
    """Was the host booted with systemd? (sd_booted(3): the directory ``/run/systemd/system`` exists.)"""
    return Path("/run/systemd/system").is_dir()


#: what the lab does on each cgroup layout (cgroups.layout())
_LAYOUTS = {
    "v2": "cgroup v2 (unified): the lab's groups go under /sys/fs/cgroup/labkit, its controllers enabled in "
          "cgroup.subtree_control (the runtimes' cgroupfs driver, as ctr uses /default)",
    "hybrid": "cgroup v1 controllers with a cgroup2 tree beside them (hybrid): the lab uses v1; set-up gives any "
              "controller left in the cgroup2 tree a v1 hierarchy, or crun refuses to run",
    "v1": "cgroup v1: one hierarchy per controller, the lab's groups under labkit/ in each",
}


def _version(program: str, flag: str) -> str:
    """The first line ``PROGRAM FLAG`` prints (graphviz's ``dot -V`` prints it on stderr)."""
    done = subprocess.run([program, flag], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return ((done.stdout or done.stderr).strip().splitlines() or ["unknown version"])[0]


def _check_layout() -> Check:
    """The host's cgroup layout, named, and what the lab does on it."""
    return Check("cgroup layout", True, _LAYOUTS[cgroups.layout()])


def _check_init() -> Check:
    if _systemd():
        return Check("init", True, "systemd")
    return Check("init", True, f"no systemd: PID 1 is {Path('/proc/1/comm').read_text().strip()}")


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


def _check_user_network() -> Check:
    """Can a rootless container get a network of its own? slirp4netns, and a /dev/net/tun this user may open."""
    if shutil.which("slirp4netns") is None:
        return Check("user-mode networking", False, "slirp4netns is not installed",
                     "apt-get install slirp4netns (a rootless container's network)")
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        return Check("user-mode networking", False, "this user cannot open /dev/net/tun",
                     "chmod 0666 /dev/net/tun (udev's default on a stock host)")
    return Check("user-mode networking", True, "slirp4netns and /dev/net/tun: rootless containers get a network")


def _check_program(name: str, package: str, needed_for: str, version: str = "--version") -> Check:
    path = shutil.which(name)
    if path is None:
        return Check(name, False, "not installed", f"apt-get install {package} ({needed_for})")
    return Check(name, True, f"{_version(name, version)} at {path}")


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
        _check_layout(),
        _check_init(),
        _check_root(),
        _check_userns(),
        _check_cgroups(),
        _check_overlay(),
        _check_user_network(),
        _check_program("runc", "runc", "the runtime"),
        _check_program("crun", "crun", "the second runtime"),
        _check_program("containerd", "containerd", "the side-by-side comparison in notebook 12"),
        _check_program("skopeo", "skopeo", "comparisons in notebook 05"),
        _check_program("umoci", "umoci", "comparisons in notebook 06"),
        _check_program("dot", "graphviz", "diagrams", version="-V"),
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
