"""Unpack a 100 MB image with labkit and with ``umoci unpack``, and print the ratio.

Usage: ``.venv/bin/python bench/unpack/bench_unpack.py [--size-mb 100] [--runs 3]`` (as root,
so that both tools keep owners; umoci must be installed). The image is built here,
reproducibly, as an OCI image layout with four gzip layers: many small files, a few
large ones, symlinks, hardlinks and whiteouts — the shape of a real distribution image.
Each tool unpacks it ``--runs`` times into a fresh directory; the medians are compared.
A ratio at or below 1.0 means labkit is no slower than umoci.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from labkit import builder
from labkit.builder import Entry
from labkit.descriptor import Descriptor
from labkit.snapshots import apply_layers


@dataclass
class LayoutImage:
    """An image in an OCI layout, with what ``apply_layers`` reads: layers, config, store.path()."""

    root: Path
    layers: list[Descriptor]
    config: dict

    @property
    def store(self) -> LayoutImage:
        return self

    def path(self, digest: str) -> Path:
        return self.root / "blobs/sha256" / digest.removeprefix("sha256:")


def _content(rng: random.Random, size: int) -> bytes:
    """Half-compressible bytes, as binaries and libraries are."""
    return (rng.randbytes(size // 2) * 2)[:size]


def build_layers(size_mb: int, rng: random.Random) -> list[list[Entry]]:
    per_layer = size_mb * 1024 * 1024 // 4
    layers = []
    for n in range(4):
        entries = [Entry(f"l{n}", "dir")]
        total, i = 0, 0
        while total < per_layer:
            directory = f"l{n}/d{i // 100}"
            if i % 100 == 0:
                entries.append(Entry(directory, "dir"))
            size = rng.choice([2_000, 8_000, 30_000, 120_000]) if i % 200 else 2_000_000
            entries.append(Entry(f"{directory}/f{i}", data=_content(rng, size), mode=rng.choice([0o644, 0o755])))
            if i % 20 == 0:
                entries.append(Entry(f"{directory}/s{i}", "symlink", link=f"f{i}"))
                entries.append(Entry(f"{directory}/h{i}", "hardlink", link=f"{directory}/f{i}"))
            total, i = total + size, i + 1
        if n:
            entries.append(Entry(f"l{n - 1}/d0/.wh.f1"))
        layers.append(entries)
    return layers


def write_layout(root: Path, size_mb: int) -> LayoutImage:
    layers = [builder.layer(entries) for entries in build_layers(size_mb, random.Random(2017))]
    built = builder.image(layers, {})
    for blob in [*built.blobs, built.manifest]:
        path = root / "blobs/sha256" / blob.digest.removeprefix("sha256:")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob.data)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    ref = {**built.manifest.descriptor, "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [ref]}))
    descriptors = [Descriptor(layer.media_type, layer.digest, len(layer.data)) for layer in layers]
    return LayoutImage(root, descriptors, json.loads(built.config.data))


def timed(action, runs: int, scratch: Path) -> float:
    times = []
    for run in range(runs):
        target = scratch / f"run{run}"
        start = time.perf_counter()
        action(target)
        times.append(time.perf_counter() - start)
        shutil.rmtree(target)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-unpack-") as tmp:
        scratch = Path(tmp)
        image = write_layout(scratch / "layout", args.size_mb)
        compressed = sum(layer.size for layer in image.layers) / 2**20

        def umoci(target: Path) -> None:
            subprocess.run(["umoci", "unpack", "--image", f"{image.root}:latest", str(target)],
                           check=True, capture_output=True)

        def labkit(target: Path) -> None:
            apply_layers(image, target)

        theirs = timed(umoci, args.runs, scratch)
        ours = timed(labkit, args.runs, scratch)
    print(f"image: {args.size_mb} MB of files in 4 gzip layers ({compressed:.0f} MiB compressed)")
    print(f"umoci unpack   median of {args.runs}: {theirs:.2f} s")
    print(f"labkit unpack  median of {args.runs}: {ours:.2f} s")
    print(f"ratio labkit/umoci: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
