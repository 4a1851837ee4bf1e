"""How many attendees one machine holds: N ordinary users run notebook 08's lifecycle at once, rootless.

Run as root on the workshop machine, with the lab registry up:

    .venv/bin/python docs/workshop_load.py 1 4 8 12 16

For each N it makes N system users (``labkit-ws01``...; removed afterwards), gives them a
readable copy of labkit (``labkit.lab.learners``), and starts them together. Each one, in its
own fresh lab root, pulls ``lab/busybox`` and then repeats notebook 08's container work,
rootless (no ``pause``: a rootless container has no freezer cgroup): a container run and
killed while a subscription collects its events, a second one with an exec'd process, and a
third started from "a terminal" (``labkit run -d``, ``tasks kill``, ``tasks delete``,
``containers delete``, each its own process, as a learner types them). It prints, per N, the
median and worst time of one round, how many cores the attendees kept busy (CPU time / wall
time) and their peak memory, both from a cgroup that holds all their processes (containers
included), so that other work on the machine is not counted. docs/workshops.md has the results.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labkit.lab import learners
from labkit.paths import CGROUP_PARENT, registry_address

ROUNDS = 3
LIFECYCLE = r"""
import json, subprocess, sys, time
import labkit

REF, ROUNDS = sys.argv[1], int(sys.argv[2])
sup = labkit.Supervisor()
image = labkit.pull(REF, plain_http=True)
cli = [sys.executable, "-m", "labkit"]
rounds = []
for _ in range(ROUNDS):
    start = time.monotonic()
    sub = sup.subscribe("event.container_id==web08", "event.id==web08", "event.key==web08")
    container = sup.create_container("web08", image, args=["sleep", "600"])
    task = container.new_task()
    task.start()
    task.kill(9)
    task.wait()
    task.delete()
    container.delete()
    while (envelope := sub.recv(timeout=10)) is not None and envelope.topic != "/containers/delete":
        pass
    sub.close()
    container = sup.create_container("log08", image, args=["sleep", "600"])
    task = container.new_task()
    task.start()
    probe = task.exec("probe08", ["sh", "-c", "exit 3"])
    probe.start()
    probe.wait()
    probe.delete()
    task.kill(9)
    task.wait()
    task.delete()
    container.delete()
    subprocess.run([*cli, "run", "-d", REF, "tty08", "--", "sleep", "600"], check=True, capture_output=True)
    subprocess.run([*cli, "tasks", "kill", "-s", "KILL", "tty08"], check=True, capture_output=True)
    sup.container("tty08").task().wait()
    subprocess.run([*cli, "tasks", "delete", "tty08"], check=True, capture_output=True)
    subprocess.run([*cli, "containers", "delete", "tty08"], check=True, capture_output=True)
    rounds.append(time.monotonic() - start)
print(json.dumps(rounds))
"""


class Accounting:
    """A cgroup (v1 ``cpuacct`` and ``memory``) holding every process of the attendees: CPU time and peak memory.

    Rootless containers have no cgroup of their own, so they stay in their user's: this one. Other
    work on the machine is not counted. The groups are under ``labkit/`` (paths.py), removed at the end.
    """

    def __init__(self, name: str) -> None:
        self.dirs = [Path("/sys/fs/cgroup") / kind / CGROUP_PARENT / name for kind in ("cpuacct", "memory")]
        for directory in self.dirs:
            directory.mkdir(parents=True)

    def enter(self) -> None:
        """Move the calling process in (a ``preexec_fn``: the child joins before it execs)."""
        for directory in self.dirs:
            (directory / "cgroup.procs").write_text(str(os.getpid()))

    def cpu_seconds(self) -> float:
        return int((self.dirs[0] / "cpuacct.usage").read_text()) / 1e9

    def peak_bytes(self) -> int:
        return int((self.dirs[1] / "memory.max_usage_in_bytes").read_text())

    def remove(self) -> None:
        """Kill whatever is left in the group (an interrupted run), then remove it."""
        while pids := (self.dirs[0] / "cgroup.procs").read_text().split():
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        for directory in self.dirs:
            directory.rmdir()


def load(n: int, site: Path) -> dict[str, float]:
    users = [learners.ensure_user(f"labkit-ws{i:02d}") for i in range(1, n + 1)]
    homes = [Path(tempfile.mkdtemp(prefix="labkit-ws-home-")) for _ in users]
    for user, home in zip(users, homes):
        shutil.chown(home, user.pw_uid, user.pw_gid)
    ref = f"{registry_address()}/lab/busybox:latest"
    accounting = Accounting(f"workshop-load-{n}")
    try:
        started = time.monotonic()
        procs = [subprocess.Popen(learners.command(user.pw_name, ["-c", LIFECYCLE, ref, str(ROUNDS)],
                                                   pythonpath=site, env={"HOME": str(home)}),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
                                  preexec_fn=accounting.enter)
                 for user, home in zip(users, homes)]
        outputs = [proc.communicate() for proc in procs]
        wall = time.monotonic() - started
        time.sleep(0.5)  # the last shims publish and exit
        cpu, peak = accounting.cpu_seconds(), accounting.peak_bytes()
    finally:
        accounting.remove()
        for user, home in zip(users, homes):
            shutil.rmtree(home)
            subprocess.run(["userdel", "--remove", user.pw_name], capture_output=True)
    for (_, err), proc in zip(outputs, procs):
        if proc.returncode != 0:
            raise SystemExit(f"a user's lifecycle failed:\n{err}")
    rounds = [r for out, _ in outputs for r in json.loads(out)]
    return {"users": n, "median_round_s": statistics.median(rounds), "worst_round_s": max(rounds), "wall_s": wall,
            "cores_busy": cpu / wall, "cpu_per_round_s": cpu / len(rounds), "peak_mib": peak / 2**20}


def main(counts: list[int]) -> None:
    site = learners.readable_copy(Path(tempfile.mkdtemp(prefix="labkit-ws-site-")))
    try:
        print(f"{os.cpu_count()} cores; other load on the machine (1-minute average): {os.getloadavg()[0]:.1f}")
        print("users  round median  round worst  CPU per round  cores busy  peak memory")
        for n in counts:
            r = load(n, site)
            print(f"{r['users']:>5}  {r['median_round_s']:>10.2f} s  {r['worst_round_s']:>9.2f} s  "
                  f"{r['cpu_per_round_s']:>11.2f} s  {r['cores_busy']:>10.2f}  {r['peak_mib']:>7.0f} MiB", flush=True)
    finally:
        shutil.rmtree(site)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1, 4, 8])
