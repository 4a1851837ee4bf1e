"""Pull a 100+ MB multi-layer image, cold, with labkit and with the reference tools; print two ratios.

Usage (as root; the lab registry must be up)::

    .venv/bin/python bench/pull/bench_pull.py [--size-mb 120] [--runs 3] [--no-ctr]

The image is built here from generated local data (reproducibly: the same seed gives the
same digests) with four gzip layers, and pushed to the lab registry as ``bench/pull:latest``.
Every run starts from nothing (a fresh lab root, a fresh OCI layout, a fresh containerd),
and each tool is timed as a whole command, start-up included:

- **fetch**: ``labkit pull --plain-http REF`` against
  ``skopeo copy docker://REF oci:DIR:latest`` — both fetch every blob and verify its digest;
- **fetch + unpack**: ``labkit unpack --plain-http REF DIR`` against ``ctr images pull
  --plain-http REF`` on a private containerd (``labkit.lab.containerd``), which also unpacks
  the layers into its overlayfs snapshotter.

A ratio (labkit's median / the tool's median) at or below 1.0 means labkit is no slower.
The two commands of a comparison alternate run by run, so that a busy moment of the machine
hits both; each command's CPU time (user + system) is printed too, as the steadier measure
of work on a loaded machine.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from labkit import builder
from labkit.builder import Entry
from labkit.lab.containerd import Containerd
from labkit.paths import registry_address

LABKIT = str(Path(sys.executable).with_name("labkit"))
REPOSITORY, TAG = "bench/pull", "latest"


def build_image(size_mb: int) -> builder.BuiltImage:
    """Four layers of files (a few large, many small), mostly incompressible, as binaries are once gzipped."""
    rng = random.Random(2017)
    per_layer = size_mb * 1024 * 1024 // 4
    layers = []
    for n in range(4):
        entries, total, i = [Entry(f"layer{n}", "dir")], 0, 0
        while total < per_layer:
            size = 4_000_000 if i % 10 == 0 else rng.choice([4_000, 40_000, 400_000])
            entries.append(Entry(f"layer{n}/file{i}", data=rng.randbytes(size)))
            total, i = total + size, i + 1
        layers.append(builder.layer(entries))
    return builder.image(layers, {"Cmd": ["/bin/sh"]})


def timed(command: list[str]) -> float:
    """Wall-clock seconds of ``command``; its CPU seconds (user + system) go to ``CPU``, shown beside."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


#: CPU seconds of each timed command, in order. On a busy machine wall-clock times swing with the load;
#: CPU time is the steadier measure of work (for ctr it misses the daemon, which does the work).
CPU: list[float] = []


def labkit_fetch(ref: str, scratch: Path) -> float:
    return timed([LABKIT, "--root", str(scratch / "lab"), "pull", "--plain-http", ref])


def skopeo_fetch(ref: str, scratch: Path) -> float:
    return timed(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"oci:{scratch / 'layout'}:latest"])


def labkit_unpack(ref: str, scratch: Path) -> float:
    return timed([LABKIT, "--root", str(scratch / "lab"), "unpack", "--plain-http", ref, str(scratch / "rootfs")])


def ctr_pull(ref: str, scratch: Path) -> float:
    with Containerd(scratch / "lab") as containerd:  # started and stopped outside the timing
        return timed(["ctr", "--address", str(containerd.address), "images", "pull", "--plain-http", ref])


def cold(run: Callable[[str, Path], float], ref: str) -> float:
    """One timed run in a fresh scratch directory, removed (and unmounted) afterwards."""
    scratch = Path(tempfile.mkdtemp(prefix="labkit-bench-pull-"))
    try:
        return run(ref, scratch)
    finally:
        subprocess.run(["umount", "-R", "-q", str(scratch)], check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(scratch, ignore_errors=True)


def compare(title: str, ours: tuple[str, Callable], theirs: tuple[str, Callable], ref: str, runs: int) -> float:
    """Alternate the two commands run by run (so a busy moment of the machine hits both), print medians and the ratio."""
    times: dict[str, list[float]] = {ours[0]: [], theirs[0]: []}
    cpu: dict[str, list[float]] = {ours[0]: [], theirs[0]: []}
    for _ in range(runs):
        for name, run in (ours, theirs):
            times[name].append(cold(run, ref))
            cpu[name].append(CPU[-1])
    print(f"{title}:")
    for name, values in times.items():
        print(f"  {name:30} median {statistics.median(values):6.2f} s (CPU {statistics.median(cpu[name]):5.2f} s)"
              f"   runs: {', '.join(f'{t:.2f}' for t in values)}")
    ratio = statistics.median(times[ours[0]]) / statistics.median(times[theirs[0]])
    print(f"  ratio {ours[0]} / {theirs[0]} = {ratio:.2f}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mb", type=int, default=120, help="uncompressed size of the image's files")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-ctr", action="store_true", help="skip fetch + unpack against ctr")
    args = parser.parse_args()

    image = build_image(args.size_mb)
    ref = f"{registry_address()}/{REPOSITORY}:{TAG}"
    builder.push(registry_address(), REPOSITORY, TAG, image)
    size = sum(len(layer.data) for layer in image.layers)
    print(f"image {ref}: {len(image.layers)} layers, {size / 1e6:.1f} MB compressed, {args.runs} cold runs each")

    compare("fetch (download + verify every digest)", ("labkit pull", labkit_fetch),
            ("skopeo copy docker:// oci:", skopeo_fetch), ref, args.runs)  # fmt: skip
    if not args.no_ctr:
        compare("fetch + unpack", ("labkit unpack", labkit_unpack), ("ctr images pull", ctr_pull), ref, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
