"""Test helpers for layers and snapshots: build layer tars and OCI layouts, unpack with umoci, compare trees.

The acceptance rule for unpacking is "the same tree as ``umoci unpack``": :func:`tree`
reduces a directory to what must match (paths, types, modes, owners, sizes, contents,
link targets, device numbers), so two trees are equal when their ``tree`` is.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import stat
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

__all__ = [
    "Entry", "Descriptor", "Blobs", "d", "f", "sym", "hard", "dev", "wh", "layer_bytes", "tree", "Layout", "umoci_unpack",
    "TAR", "GZIP", "ZSTD", "DOCKER_GZIP", "BASE", "CHANGES", "random_layers", "builder_entries",
]

TAR = "application/vnd.oci.image.layer.v1.tar"
GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

Entry = tuple[tarfile.TarInfo, bytes]


def _info(name: str, kind: bytes, mode: int, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, 1_500_000_000
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def d(name: str, mode: int = 0o755, **attrs: object) -> Entry:
    return _info(name, tarfile.DIRTYPE, mode, **attrs), b""


def f(name: str, data: bytes = b"", mode: int = 0o644, **attrs: object) -> Entry:
    return _info(name, tarfile.REGTYPE, mode, size=len(data), **attrs), data


def sym(name: str, target: str) -> Entry:
    return _info(name, tarfile.SYMTYPE, 0o777, linkname=target), b""


def hard(name: str, target: str) -> Entry:
    return _info(name, tarfile.LNKTYPE, 0o644, linkname=target), b""


def dev(name: str, major: int, minor: int, mode: int = 0o666) -> Entry:
    return _info(name, tarfile.CHRTYPE, mode, devmajor=major, devminor=minor), b""


def wh(name: str) -> Entry:
    """The whiteout of ``name`` (``dir/.wh.base``); ``wh("dir/.wh..opq")`` gives the opaque marker."""
    head, _, base = name.rpartition("/")
    return f(f"{head}/.wh.{base}" if head else f".wh.{base}")


def layer_bytes(entries: list[Entry], media_type: str = TAR) -> tuple[bytes, str]:
    """A layer blob and its DiffID."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buf.getvalue()
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    if media_type == ZSTD:
        return zstandard.ZstdCompressor().compress(raw), diff_id
    if media_type in (GZIP, DOCKER_GZIP):
        return gzip.compress(raw, mtime=0), diff_id
    return raw, diff_id


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """What must match between two unpacked trees, by path (the root itself excluded)."""
    result: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            kind = stat.S_IFMT(st.st_mode)
            detail: object = None
            if stat.S_ISREG(kind):
                detail = (st.st_size, hashlib.sha256(path.read_bytes()).hexdigest())
            elif stat.S_ISLNK(kind):
                detail = os.readlink(path)
            elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
                detail = (os.major(st.st_rdev), os.minor(st.st_rdev))
            mode = None if stat.S_ISLNK(kind) else stat.S_IMODE(st.st_mode)
            result[str(path.relative_to(root))] = (stat.filemode(kind)[0], mode, st.st_uid, st.st_gid, detail)
    return dict(sorted(result.items()))


@dataclass
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass
class Blobs:
    """The blob directory of a layout, with the content store's ``path(digest)``."""

    root: Path

    def path(self, digest: str) -> Path:
        return self.root / "blobs/sha256" / digest.removeprefix("sha256:")

    def write(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.path(digest).parent.mkdir(parents=True, exist_ok=True)
        self.path(digest).write_bytes(data)
        return digest


@dataclass
class Layout:
    """An OCI image layout on disk (image spec, image-layout.md) holding one image, tagged ``latest``.

    It also stands in for a ``labkit.images`` image: ``layers``, ``config`` and
    ``store.path(digest)`` are what ``labkit.snapshots.unpack`` reads.
    """

    path: Path
    layers: list[Descriptor] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    @property
    def store(self) -> Blobs:
        return Blobs(self.path)

    @classmethod
    def build(cls, path: Path, layers: list[list[Entry]], media_type: str = GZIP) -> Layout:
        """Write the layout: blobs, a manifest tagged ``latest``, ``index.json`` and ``oci-layout``."""
        return cls.of_blobs(path, [(*layer_bytes(entries, media_type), media_type) for entries in layers])

    @classmethod
    def of_blobs(cls, path: Path, blobs: list[tuple[bytes, str, str]]) -> Layout:
        """The layout of layer blobs as given, ``(blob, DiffID, media type)``: hostile ones too."""
        layout = cls(path)
        diff_ids = []
        for blob, diff_id, media_type in blobs:
            layout.layers.append(Descriptor(media_type, layout.store.write(blob), len(blob)))
            diff_ids.append(diff_id)
        layout.config = {"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        config = json.dumps(layout.config).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": layout.store.write(config), "size": len(config)},
            "layers": [{"mediaType": x.media_type, "digest": x.digest, "size": x.size} for x in layout.layers],
        }).encode()
        index = {"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": layout.store.write(manifest),
            "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
        (path / "index.json").write_text(json.dumps(index))
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        return layout


def umoci_unpack(layout: Path, bundle: Path, tag: str = "latest") -> Path:
    """``umoci unpack`` the image into ``bundle`` and return its root filesystem."""
    run = subprocess.run(["umoci", "unpack", "--image", f"{layout}:{tag}", str(bundle)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return bundle / "rootfs"


#: a base layer and a layer of changes that exercise every rule (the shape of the lab's lab/layers image)
BASE = [d("bin"), f("bin/sh", b"#!sh", 0o755), sym("bin/ls", "sh"), d("etc"), f("etc/passwd", b"root:x:0:0\n"),
        d("tmp", 0o1777), d("gone"), f("gone/x", b"x"), d("opq"), f("opq/a", b"a"), f("opq/b", b"b")]
CHANGES = [wh("gone"), f("opq/.wh..wh..opq"), f("opq/c", b"c"), f("bin/su", b"su", 0o4755), hard("bin/sh2", "bin/sh"),
           d("etc", 0o700), f("bin/ls", b"now a file"), sym("etc/link", "../../../../etc/shadow"), f("./x/y/z", b"deep")]


def random_layers(seed: int, count: int = 3) -> list[list[Entry]]:
    """A reproducible stack of layers: files, dirs, links, mode changes, replacements, whiteouts, opaque dirs."""
    rng = random.Random(seed)
    dirs, files = [""], []

    def drop(path: str) -> None:  # path and everything under it are gone
        dirs[:] = [p for p in dirs if p != path and not p.startswith(path + "/")]
        files[:] = [p for p in files if p != path and not p.startswith(path + "/")]

    layers = []
    for _ in range(count):
        entries: list[Entry] = []
        written: set[str] = set()
        touched = lambda path: any(w == path or w.startswith(path + "/") for w in written)  # noqa: E731, B023 — used within this iteration only
        for _ in range(rng.randint(5, 30)):
            parent = rng.choice(dirs)
            name = f"{parent}/n{rng.randint(0, 20)}".lstrip("/")
            op = rng.choice(["dir", "dir", "file", "file", "file", "symlink", "hardlink", "whiteout", "opaque", "chmod"])
            if op in ("dir", "file", "symlink", "hardlink") and touched(name):
                continue
            if op == "dir":
                if name not in dirs:
                    drop(name)
                    dirs.append(name)
                entries.append(d(name, rng.choice([0o755, 0o700, 0o1777])))
            elif op == "file":
                drop(name)
                files.append(name)
                entries.append(f(name, rng.randbytes(rng.randint(0, 5000)), rng.choice([0o644, 0o600, 0o755, 0o4755])))
            elif op == "symlink":
                drop(name)
                entries.append(sym(name, rng.choice(["../" * rng.randint(0, 3) + "etc", "/bin/sh", "n1", "."])))
            elif op == "hardlink" and (same_layer := [n for n in files if n in written]):
                drop(name)
                files.append(name)
                entries.append(hard(name, rng.choice(same_layer)))
            elif op == "whiteout" and (lower := [p for p in dirs[1:] + files if not touched(p)]):
                name = rng.choice(lower)
                drop(name)
                entries.append(wh(name))
            elif op == "opaque" and parent and not touched(parent):
                for path in [p for p in dirs + files if p.startswith(parent + "/")]:
                    drop(path)
                entries.append(f(f"{parent}/.wh..wh..opq"))
                name = parent
            elif op == "chmod" and parent and parent not in written:
                entries.append(d(parent, 0o750))
                name = parent
            else:
                continue
            written.add(name)
        layers.append(entries)
    return layers


def builder_entries(entries: list[Entry]) -> list[object]:
    """The same entries for ``labkit.builder``, to push them to the lab registry."""
    from labkit.builder import Entry as BuilderEntry

    kinds = {tarfile.REGTYPE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
             tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "chardev"}
    return [BuilderEntry(info.name, kinds[info.type], data, info.mode, info.linkname, info.uid, info.gid)
            for info, data in entries]
