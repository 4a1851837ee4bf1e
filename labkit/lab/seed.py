"""The lab's seed images, built from files already on the machine (no internet).

- ``lab/busybox:latest`` — one layer: busybox-static and a symlink per applet, the few
  files a shell expects (``/etc/passwd``, ``/etc/group``) and the mount points a
  runtime fills (``/proc``, ``/sys``, ``/dev``). OCI media types.
- ``lab/layers:latest`` — the busybox layer plus three layers that exercise every
  rule of applying a layer (OCI image spec, layer.md): new files, a symlink, a
  hardlink, a setuid file; then a whiteout, an opaque directory, a mode and a
  content change; then a directory deleted whole. Docker schema 2 media types,
  so the lab has an image of each format.
- ``lab/multiarch:latest`` — an index with a manifest for this machine's
  architecture (runnable busybox) and one for another (a marker file only: the lab
  cannot build foreign binaries, and platform selection only needs to tell them apart).

Each image records in ``/etc/lab-image`` which image it is, so a learner can check
which one a container runs.
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .. import builder
from ..builder import BuiltImage, BuiltIndex, Entry

__all__ = ["SeedImage", "seed_images", "seed", "host_platform"]

BUSYBOX = Path("/bin/busybox")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


@dataclass(frozen=True)
class SeedImage:
    repository: str
    tag: str
    artifact: BuiltImage | BuiltIndex
    summary: str


def host_platform() -> dict:
    """This machine's platform as an image index names it (reference.md: x86_64 → amd64)."""
    return {"os": "linux", "architecture": _ARCHES.get(platform.machine(), platform.machine())}


def _busybox_entries() -> list[Entry]:
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout.split()
    return [
        *(Entry(d, "dir") for d in ("bin", "dev", "etc", "proc", "sys", "usr", "usr/bin", "var")),
        Entry("root", "dir", mode=0o700),
        Entry("tmp", "dir", mode=0o1777),
        Entry("bin/busybox", data=BUSYBOX.read_bytes(), mode=0o755),
        *(Entry(f"bin/{a}", "symlink", link="busybox") for a in applets if a != "busybox"),
        Entry("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
        Entry("etc/group", data=b"root:x:0:\nnogroup:x:65534:\n"),
    ]


def _marker(name: str) -> Entry:
    return Entry("etc/lab-image", data=f"{name}\n".encode())


def _busybox_config(**extra: object) -> dict:
    return {"Env": [PATH_ENV], "Cmd": ["sh"], "WorkingDir": "/", **extra}


def _layers_image() -> BuiltImage:
    docker = {"fmt": "docker"}
    base = builder.layer([*_busybox_entries(), _marker("lab/layers")], **docker)
    added = builder.layer([
        Entry("data", "dir"), Entry("data/dir", "dir"), Entry("data/opaque", "dir"),
        Entry("data/a.txt", data=b"alpha\n"),
        Entry("data/b.txt", data=b"bravo\n"),
        Entry("data/dir/x", data=b"x, first version\n"),
        Entry("data/opaque/old1", data=b"old\n"), Entry("data/opaque/old2", data=b"old\n"),
        Entry("data/link", "symlink", link="a.txt"),
        Entry("data/abs-link", "symlink", link="/data/a.txt"),
        Entry("data/hard", "hardlink", link="data/a.txt"),
        Entry("data/suid", data=b"#!/bin/sh\necho set-uid\n", mode=0o4755),
        Entry("data/script", data=b"#!/bin/sh\necho hello\n", mode=0o644),
    ], **docker)
    changed = builder.layer([
        Entry("data", "dir"),
        Entry("data/.wh.b.txt"),                      # whiteout: b.txt is gone
        Entry("data/opaque", "dir"),
        Entry("data/opaque/.wh..wh..opq"),            # opaque: old1 and old2 are hidden
        Entry("data/opaque/new", data=b"new\n"),
        Entry("data/script", data=b"#!/bin/sh\necho hello\n", mode=0o755),  # mode change
        Entry("data/dir", "dir", mode=0o750),         # directory over directory: kept, mode replaced
        Entry("data/dir/x", data=b"x, second version\n"),
    ], **docker)
    removed = builder.layer([
        Entry("data", "dir"),
        Entry("data/.wh.dir"),                        # a whole directory deleted
        Entry("data/link", data=b"a file where a symlink was\n"),  # type change: remove, then create
    ], **docker)
    config = _busybox_config(Labels={"org.opencontainers.image.title": "lab/layers"})
    return builder.image([base, added, changed, removed], config, platform=host_platform(), fmt="docker")


def _multiarch_index() -> BuiltIndex:
    here = host_platform()
    other = {"os": "linux", "architecture": "arm64" if here["architecture"] != "arm64" else "amd64"}
    runnable = builder.image([builder.layer([*_busybox_entries(), _marker(f"lab/multiarch {here['os']}/{here['architecture']}")])],
                             _busybox_config(), platform=here)
    foreign = builder.image([builder.layer([Entry("etc", "dir"), _marker(f"lab/multiarch {other['os']}/{other['architecture']}")])],
                            _busybox_config(), platform=other)
    return builder.index([runnable, foreign])


@cache
def seed_images() -> tuple[SeedImage, ...]:
    """The three seed images, built once per process (deterministic: same files, same digests)."""
    busybox = builder.image([builder.layer([*_busybox_entries(), _marker("lab/busybox")])], _busybox_config(),
                            platform=host_platform())
    return (
        SeedImage("lab/busybox", "latest", busybox, "busybox-static, one layer (OCI)"),
        SeedImage("lab/layers", "latest", _layers_image(), "four layers: whiteouts, opaque dir, links, setuid (Docker v2s2)"),
        SeedImage("lab/multiarch", "latest", _multiarch_index(), "an index: this machine's platform and one other (OCI)"),
    )


def seed(registry: str) -> list[tuple[SeedImage, str]]:
    """Push every seed image to ``registry`` (idempotent: present blobs are skipped)."""
    return [(s, builder.push(registry, s.repository, s.tag, s.artifact)) for s in seed_images()]
