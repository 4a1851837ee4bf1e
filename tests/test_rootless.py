"""Rootless end to end: an ordinary user pulls, runs, follows the events and deletes, all under its own lab root.

The user is a system user (``useradd --system``, kept between runs: making users is slow
and harmless). It cannot read the project's virtualenv — on this machine its interpreter
is a link into ``/root/.pyenv``, and CI's fresh clone may live under ``/root`` too — so,
once per session, ``labkit.lab.learners.readable_copy`` copies labkit and the distributions
it imports at run time (httpx, zstandard and what they require, found from their installed
metadata) into a world-readable temporary directory, and the user runs Debian's
``/usr/bin/python3`` (the virtualenv's minor version) with that directory on PYTHONPATH.
Nothing of /root's permissions changes, and no network is needed.

Each test gives the user a fresh HOME (so a fresh ``~/.local/share/labkit``: the lab root
an ordinary user gets by default, with runc's state in its ``runc/``) and afterwards looks
at every file on the machine that the user owns and has changed.
"""

from __future__ import annotations

import glob
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from waiting import wait_until

from labkit import cgroups
from labkit.lab import learners

USER = "labkit-rootless"
REF = "lab/busybox:latest"
LIFECYCLE = ["/snapshot/prepare", "/containers/create", "/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete",
             "/snapshot/remove", "/containers/delete"]
pytestmark = [pytest.mark.root, pytest.mark.tool("runc"), pytest.mark.registry, pytest.mark.slow]


@pytest.fixture(scope="session")
def site() -> Iterator[Path]:
    """labkit and its run-time dependencies, readable by every user (once per session)."""
    directory = Path(tempfile.mkdtemp(prefix="labkit-site-"))
    try:
        yield learners.readable_copy(directory)
    finally:
        shutil.rmtree(directory)


@pytest.fixture
def home() -> Iterator[Path]:
    """A fresh home for the user: its lab root will be ``<home>/.local/share/labkit``."""
    user = learners.ensure_user(USER)
    directory = Path(tempfile.mkdtemp(prefix="labkit-home-"))
    (directory / ".local" / "share").mkdir(parents=True)
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(directory)], check=True)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def labkit(site: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = learners.run_as(USER, list(args), pythonpath=site, env=_env(home))
    assert out.returncode == 0, f"labkit {' '.join(args)}: {out.stderr}"
    return out


def _env(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "LABKIT_REGISTRY": os.environ.get("LABKIT_REGISTRY", "127.0.0.1:5000")}


def _ref(registry: str) -> str:
    return f"{registry}/{REF}"


def _following(journal: Path) -> bool:
    """Whether some process holds the journal open (``labkit events`` has subscribed)."""
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == str(journal):
                return True
        except OSError:
            continue
    return False


def _written_by(uid: int, since: float) -> list[str]:
    """Every file on the root filesystem (and /dev/shm) that ``uid`` owns and changed after ``since``."""
    stamp = tempfile.NamedTemporaryFile(prefix="labkit-stamp-")  # noqa: SIM115 — closed by the `with stamp:` below
    os.utime(stamp.name, (since, since))
    with stamp:
        found = subprocess.run(["find", "/", "/dev/shm", "-xdev", "-user", str(uid), "-newer", stamp.name, "-print"],
                               capture_output=True, text=True)
    return sorted(set(found.stdout.split()))


def test_pull_run_events_delete_as_an_ordinary_user(site: Path, home: Path, registry: str) -> None:
    uid = learners.ensure_user(USER).pw_uid
    lab_root = home / ".local" / "share" / "labkit"
    since = time.time() - 1
    digest = labkit(site, home, "pull", "--plain-http", _ref(registry)).stdout.strip()
    assert digest.startswith("sha256:")

    events = ["-m", "labkit", "events", "--json", "event.id==rl1", "event.container_id==rl1", "event.key==rl1"]
    follower = subprocess.Popen(learners.command(USER, events, pythonpath=site, env=_env(home)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    try:
        wait_until(lambda: follower.poll() is None and _following(lab_root / "events.jsonl"), 20,
                   "labkit events did not subscribe")
        run = labkit(site, home, "run", "--rm", _ref(registry), "rl1", "--",
                     "sh", "-c", "id -u; cat /proc/self/uid_map; ls -ln /bin/busybox")
        output = b""
        while b'"/containers/delete"' not in output:
            assert select.select([follower.stdout], [], [], 10)[0], f"events stopped after {output!r}"
            output += os.read(follower.stdout.fileno(), 65536)
    finally:
        follower.terminate()
        follower.wait(timeout=10)

    inside_uid, uid_map, busybox = run.stdout.splitlines()
    assert inside_uid == "0"  # root inside ...
    assert uid_map.split() == ["0", str(uid), "1"]  # ... is the user outside, and nobody else is mapped
    assert busybox.split()[2:4] == ["0", "0"]  # the user's own files are root's inside
    topics = [json.loads(line)["topic"] for line in output.decode().splitlines()]
    assert [t for t in topics if t in LIFECYCLE] == LIFECYCLE
    assert (lab_root / "runc").is_dir()  # runc's --root: the user's own, inside the lab root
    assert not list((lab_root / "containers").iterdir())
    above = {str(parent) for parent in lab_root.parents}  # changed only by making the lab root in them
    written = _written_by(uid, since)
    others = [Path(h) for h in glob.glob("/tmp/labkit-home-*") if Path(h) != home]  # other runs' (a shared machine)
    outside = [path for path in written if path not in above and not Path(path).is_relative_to(lab_root)
               and not any(Path(path).is_relative_to(other) for other in others)]
    assert outside == [], "written outside the lab root"
    assert str(home) not in Path("/proc/self/mountinfo").read_text()  # nothing mounted on the host
    assert not cgroups.Cgroup("rl1").exists()  # and no cgroup made


@pytest.mark.tool("crun")
def test_crun_runs_the_same_rootless_bundle(site: Path, home: Path, registry: str) -> None:
    labkit(site, home, "pull", "--plain-http", _ref(registry))
    labkit(site, home, "run", "-d", "--runtime", "crun", _ref(registry), "rl2", "--", "sleep", "30")
    try:
        info = json.loads(labkit(site, home, "containers", "info", "rl2").stdout)
        spec = info["spec"]
        assert info["snapshotter"] == "native"
        assert "cgroupsPath" not in spec["linux"] and "resources" not in spec["linux"]
        assert {"type": "user"} in spec["linux"]["namespaces"]
        assert {"type": "network"} not in spec["linux"]["namespaces"]  # the host's network: no one to configure another
        assert Path(spec["root"]["path"]).is_absolute()  # the snapshot itself: crun binds it, no mount by the user
        assert "rl2" in labkit(site, home, "tasks", "ls").stdout
    finally:
        labkit(site, home, "tasks", "kill", "--signal", "KILL", "rl2")
        wait_until(lambda: "STOPPED" in labkit(site, home, "tasks", "ls").stdout, 10, "rl2 never stopped")
        labkit(site, home, "tasks", "delete", "rl2")
        labkit(site, home, "containers", "delete", "rl2")



#: an ordinary user's limits, pause and OOM events, in the cgroup v2 subtree systemd delegates to it
DELEGATED_LIFE = r"""
import signal, sys
import labkit
from labkit import cgroups, metrics

ref, runtime = sys.argv[1:]
sup = labkit.Supervisor()
labkit.pull(ref, plain_http=True)
oom = sup.subscribe('topic=="/tasks/oom"')
watcher = metrics.OOMWatcher(sup.publish)
hog = sup.create_container("rlhog", ref, ["tail", "/dev/zero"], runtime=runtime, memory=16 << 20)
print("cgroup:", cgroups.Cgroup("rlhog").path)
task = hog.new_task()
watcher.add("rlhog")
task.start()
print("exit status:", task.wait())
envelope = oom.recv(timeout=10)
print("event:", envelope and envelope.topic, envelope and envelope.event["container_id"])
print("oom kills:", metrics.read("rlhog").cgroup.oom_kills)
task.delete()
hog.delete()
watcher.close()
sleeper = sup.create_container("rlsleep", ref, ["sleep", "60"], runtime=runtime, pids=10)
task = sleeper.new_task()
task.start()
print("pids limit:", metrics.read("rlsleep").cgroup.pids_limit)
task.pause()
print("paused:", task.status(), cgroups.Cgroup("rlsleep").frozen())
task.resume()
print("resumed:", task.status(), cgroups.Cgroup("rlsleep").frozen())
task.kill(signal.SIGKILL)
task.wait()
task.delete()
sleeper.delete()
print("groups left:", cgroups.groups())
"""


@pytest.mark.skipif(not (cgroups.version() == 2 and Path("/run/systemd/system").is_dir()),
                    reason="systemd delegates cgroups to ordinary users only on a cgroup v2 host booted with it")
@pytest.mark.parametrize("runtime", [pytest.param(name, marks=pytest.mark.tool(name)) for name in ("runc", "crun")])
def test_a_delegated_user_gets_limits_oom_events_and_pause(site: Path, home: Path, registry: str,
                                                            runtime: str) -> None:
    """As a workshop's spawner runs an attendee (a systemd service with Delegate=yes): real limits, rootless."""
    argv = learners.command(USER, ["-c", DELEGATED_LIFE, _ref(registry), runtime], pythonpath=site, env=_env(home),
                            delegated=True)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    cgroup, *rest = out.stdout.splitlines()
    assert cgroup.startswith("cgroup: /system.slice/") and cgroup.endswith("/labkit/rlhog")  # the service's own
    assert rest == [
        "exit status: 137",                 # the kernel enforced the memory limit ...
        "event: /tasks/oom rlhog",          # ... and the lab heard of it
        "oom kills: 1",
        "pids limit: 10",
        "paused: paused True",              # the freezer is the user's too
        "resumed: running False",
        "groups left: []",
    ]


#: a rootless container on its own network namespace, connected by slirp4netns, fetching from the lab registry
NETWORKED = r"""
import os, sys
import labkit

ref = sys.argv[1]
sup = labkit.Supervisor()
labkit.pull(ref, plain_http=True)
script = "ip -o -4 addr show tap0 | awk '{print $4}'; wget -q -O - http://10.0.2.2:5000/v2/; echo; readlink /proc/self/ns/net"
container = sup.create_container("rlnet", ref, ["sh", "-c", script], network="slirp4netns")
task = container.run_task()
print("exit status:", task.wait())
address, answer, netns = (container.dir / "stdout").read_text().splitlines()
print("address:", address)
print("registry said:", answer)
print("own network namespace:", netns != os.readlink("/proc/self/ns/net"))
task.delete()
container.delete()
"""


@pytest.mark.tool("slirp4netns")
def test_a_rootless_container_reaches_the_lab_registry_over_its_own_network(site: Path, home: Path,
                                                                              registry: str) -> None:
    argv = learners.command(USER, ["-c", NETWORKED, _ref(registry)], pythonpath=site, env=_env(home))
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "exit status: 0",
        "address: 10.0.2.100/24",       # slirp4netns's tap0, in the container's own namespace ...
        "registry said: {}",            # ... whose 10.0.2.2 is the host, loopback included
        "own network namespace: True",
    ]
    assert not list((home / ".local/share/labkit/containers").iterdir())
