"""The container lifecycle, labkit against the real tools: two ratios, printed.

Usage: ``.venv/bin/python bench/lifecycle/bench_lifecycle.py [--runs 10] [--runtime runc]`` as root,
with the lab registry up (``labkit lab up``) and containerd installed (it is started privately).

1. ``labkit run --rm REF ID -- true`` against ``ctr run --rm REF ID true`` on the same image
   (containerd private under a temporary root, the image pulled and unpacked by both first):
   the whole command each time, interpreter or Go binary start-up included (no target: see the README). ctr is a client of
   containerd, a daemon started beforehand; labkit's command is a process of its own that pays for
   its Python start-up and imports on every command (nothing of labkit is resident).
2. The in-process API — ``new_task()``, ``start()``, ``wait()``, ``delete()`` on one container —
   against bare ``runc run`` of the same bundle (rootfs mounted once). Measured with a shim per
   task (``Supervisor()``), with this process reaping its own tasks (``Supervisor(shim=False)``),
   and with ``run_task()``, ``wait()``, ``delete()``: create and start in one ``runc run`` whose
   parent is this process (what ``labkit run`` does in the foreground). Target: ≤ 1.2. The first
   two run three runtime commands (create, start, delete) where ``runc run`` runs one, which sets
   a floor under their ratio; the output shows that floor too.

Every labkit object gets its lab root as an argument (``--root``, ``root=``), under a temporary directory.

Medians of ``--runs`` rounds after one warm-up round, each round running every variant once in
turn (a loaded machine weighs on all alike); a ratio below 1 means labkit is faster.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import labkit
from labkit import snapshots
from labkit.lab.containerd import Containerd
from labkit.paths import registry_address


def medians_ms(actions: dict[str, Callable[[int], object]], runs: int) -> dict[str, float]:
    """Median wall time of each action over ``runs`` rounds, in milliseconds, after one warm-up round.

    Each round runs every action once, in turn, so that a change in the machine's load
    (other work starting or ending) weighs on all of them alike, and each round starts the
    turn one action later, so that each follows each of the others equally often: an action
    pays for what the previous one left to finish in the background (containerd's garbage
    collection after ``ctr run --rm``, the kernel's teardown of a network namespace).
    """
    times: dict[str, list[float]] = {label: [] for label in actions}
    labels = list(actions)
    for i in range(-1, runs):
        for label in labels[i % len(labels):] + labels[:i % len(labels)]:
            action = actions[label]
            start = time.perf_counter()
            action(i)
            if i >= 0:
                times[label].append(time.perf_counter() - start)
    return {label: statistics.median(values) * 1000 for label, values in times.items()}


def cli_against_ctr(root: Path, ref: str, runs: int, runtime: str) -> dict[str, float]:
    """Medians of ``labkit run --rm`` and ``ctr run --rm`` of ``true``."""
    command = str(Path(sys.executable).parent / "labkit")  # the console script, as a user types it
    lab_root = root / "labkit"
    subprocess.run([command, "--root", str(lab_root), "pull", "--plain-http", ref], check=True, capture_output=True)

    def labkit_run(i: int) -> object:
        return subprocess.run([command, "--root", str(lab_root), "run", "--rm", "--runtime", runtime, ref,
                               f"bench-{i + 1}", "--", "true"], check=True)

    with Containerd(root / "ctr") as daemon:
        daemon.pull(ref)
        return medians_ms({"labkit (its own start-up and imports)": labkit_run,
                           "ctr": lambda i: daemon.run(ref, f"bench-{i + 1}", "true")}, runs)


def api_against_runc_run(root: Path, ref: str, runs: int, runtime: str) -> dict[str, float]:
    """Medians of the task lifecycle through the API (with and without shims) and of bare runc commands."""
    lab_root = root / "api"
    image = labkit.pull(ref, plain_http=True, root=lab_root)
    actions: dict[str, Callable[[int], object]] = {}
    for label, shim, one_command in (("API, a shim per task", True, False),
                                     ("API, reaping its own tasks", False, False),
                                     ("API, run_task(): one runc run, our child", True, True)):
        container = labkit.Supervisor(lab_root, shim=shim).create_container(f"bench-api-{len(actions)}", image, ["true"],
                                                                    runtime=runtime)

        def lifecycle(_i: int, container: labkit.supervisor.Container = container, one_command: bool = one_command
                      ) -> None:
            if one_command:
                task = container.run_task()
            else:
                task = container.new_task()
                task.start()
            task.wait()
            task.delete()

        actions[label] = lifecycle
    supervisor = labkit.Supervisor(lab_root)
    bundle = supervisor.create_container("bench-bare", image, ["true"], runtime=runtime).bundle
    (bundle / "rootfs").mkdir(exist_ok=True)
    snapshots.mount_all(supervisor.snapshots("overlay").mounts("bench-bare"), bundle / "rootfs")
    bare = [runtime, "--root", str(root / "bare")]

    def three_commands(i: int) -> None:
        subprocess.run([*bare, "create", "--bundle", str(bundle), f"three-{i + 1}"], stdin=subprocess.DEVNULL,
                       check=True)
        subprocess.run([*bare, "start", f"three-{i + 1}"], check=True)
        while b'"stopped"' not in subprocess.run([*bare, "state", f"three-{i + 1}"], capture_output=True).stdout:
            time.sleep(0.001)
        subprocess.run([*bare, "delete", f"three-{i + 1}"], check=True)

    actions[f"bare {runtime} run"] = lambda i: subprocess.run(
        [*bare, "run", "--bundle", str(bundle), f"bare-{i + 1}"], stdin=subprocess.DEVNULL, check=True)
    actions[f"bare {runtime} create+start+delete (the floor)"] = three_commands
    try:
        return medians_ms(actions, runs)
    finally:
        snapshots.unmount(bundle / "rootfs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--runtime", choices=("runc", "crun"), default="runc")
    args = parser.parse_args()
    ref = f"{registry_address()}/lab/busybox:latest"
    with tempfile.TemporaryDirectory(prefix="bench-lifecycle-") as tmp:
        root = Path(tmp)
        cli = cli_against_ctr(root, ref, args.runs, args.runtime)
        api = api_against_runc_run(root, ref, args.runs, args.runtime)
    ctr = cli.pop("ctr")
    print(f"1. against ctr run --rm ({ctr:.1f} ms, containerd already running), ratios:")
    for label, ms in cli.items():
        print(f"   labkit run --rm, {label:40} {ms:6.1f} ms   ratio {ms / ctr:.2f}")
    bare = api[f"bare {args.runtime} run"]
    print(f"2. against bare {args.runtime} run ({bare:.1f} ms), ratios (target ≤ 1.2):")
    for label, ms in api.items():
        print(f"   {label:45} {ms:6.1f} ms   ratio {ms / bare:.2f}")


if __name__ == "__main__":
    main()
