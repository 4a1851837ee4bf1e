"""Hostile and unlucky layers: a bomb, a sparse terabyte, a wrong DiffID, a full disk. Refused, and nothing stays.

Whatever fails, the layer's partial output is removed: an unpack into snapshots leaves no
active snapshot and no directory of one; ``apply_layers`` leaves its target as it found
it. A layer whose expansion passes its bound (labkit/archive/_bound.py) is refused with
one line naming it, before the disk fills: the tests check how little was written.
"""

from __future__ import annotations

import functools
import gzip
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from diskfull import INODES, fill

from labkit import builder, images, snapshots
from labkit.archive import _bound
from labkit.cli import main
from labkit.errors import DataCorrupted, FailedPrecondition, InvalidArgument
from snapshots.helpers import BASE, GZIP, TAR, Layout, f, layer_bytes

GIB = 1 << 30


@functools.cache
def _gzip_bomb(declared: int, zeros: int) -> tuple[bytes, str]:
    """A gzip layer: a tar header for a file of ``declared`` bytes, then ``zeros`` zero bytes (a multiple of 64 MiB).

    The zeros are its contents, the end of the archive, and whatever trails it. gzip allows
    members end to end (RFC 1952, 2.2), so one compressed 64 MiB of zeros (64 KiB) is repeated.
    """
    info = tarfile.TarInfo("bomb")
    info.size = declared
    block = 64 << 20
    return gzip.compress(info.tobuf(tarfile.GNU_FORMAT)) + gzip.compress(b"\0" * block) * (zeros // block), (
        "sha256:" + "0" * 64)  # its DiffID is never reached


@pytest.fixture(scope="module")
def sparse_terabyte(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 10 KiB tar (GNU tar's --sparse) holding a file of 1 TiB, all hole."""
    work = tmp_path_factory.mktemp("sparse")
    (work / "big").touch()
    os.truncate(work / "big", 1 << 40)
    subprocess.run(["tar", "--sparse", "--format=gnu", "-C", work, "-cf", work / "layer.tar", "big"], check=True)
    return (work / "layer.tar").read_bytes()


def _written(root: Path) -> int:
    """Bytes of disk the files under ``root`` take (holes are free)."""
    return sum(os.lstat(Path(d, n)).st_blocks * 512 for d, _, names in os.walk(root) for n in names)


def _assert_nothing_of_it(sn: snapshots.Snapshotter) -> None:
    """Only the committed layers below it; no active snapshot, and no directory without a record."""
    records = sn.walk()
    assert all(info.kind == "committed" for info in records)
    assert sorted(int(p.name) for p in (sn.root / "snapshots").iterdir()) == sorted(i.id for i in records)


@pytest.mark.tool("tar")
@pytest.mark.parametrize("kind", ["gzip bomb", "trailing zeros", "sparse terabyte"])
@pytest.mark.parametrize("name", ["native", "overlay"])
def test_a_layer_that_expands_without_bound_is_refused_before_the_disk_fills(
    tmp_path: Path, lab_root: Path, sparse_terabyte: bytes, kind: str, name: str
) -> None:
    if name == "overlay" and os.geteuid() != 0:
        pytest.skip("overlay needs root")
    blob, diff_id, media_type = {
        "gzip bomb": (*_gzip_bomb(GIB - 1024, GIB), GZIP),  # 1 MiB of gzip declaring a 1 GiB file
        "trailing zeros": (*_gzip_bomb(0, 256 << 20), GZIP),  # 256 MiB of zeros after the end of the tar
        "sparse terabyte": (sparse_terabyte, "sha256:" + "0" * 64, TAR),
    }[kind]
    assert len(blob) < 2 << 20
    base, base_diff_id = layer_bytes(BASE, GZIP)
    image = Layout.of_blobs(tmp_path / "image", [(base, base_diff_id, GZIP), (blob, diff_id, media_type)])
    sn = snapshots.get(name, lab_root)
    with pytest.raises(InvalidArgument, match=f"layer {image.layers[1].digest[7:]} expands past .* refused as a "
                                              "decompression bomb") as refused:  # fmt: skip
        snapshots.unpack(image, sn)
    assert "\n" not in str(refused.value)
    _assert_nothing_of_it(sn)
    assert _written(lab_root) < 80 << 20  # the bound (64 MiB for a small layer), not a gigabyte
    target = tmp_path / "rootfs"
    with pytest.raises(InvalidArgument, match="decompression bomb"):
        snapshots.apply_layers(image, target)
    assert not target.exists()


def test_a_wrong_diff_id_leaves_nothing_of_the_layer_setuid_file_and_all(tmp_path: Path, lab_root: Path) -> None:
    evil = [f("bin/su", b"#!/bin/sh\necho root\n", mode=0o4755)]
    blob, _ = layer_bytes(evil, GZIP)
    base, base_diff_id = layer_bytes(BASE, GZIP)
    image = Layout.of_blobs(tmp_path / "image", [(base, base_diff_id, GZIP), (blob, "sha256:" + "1" * 64, GZIP)])
    existing = tmp_path / "rootfs"
    existing.mkdir()
    with pytest.raises(DataCorrupted, match="has DiffID"):
        snapshots.apply_layers(image, existing)
    assert existing.is_dir() and list(existing.iterdir()) == []  # emptied, as it was given
    sn = snapshots.get("native", lab_root)
    with pytest.raises(DataCorrupted, match="has DiffID"):
        snapshots.unpack(image, sn)
    _assert_nothing_of_it(sn)
    setuid = [Path(d, n) for d, _, names in os.walk(lab_root) for n in names
              if os.lstat(Path(d, n)).st_mode & stat.S_ISUID]  # fmt: skip
    assert setuid == []


@pytest.mark.root
def test_a_layer_larger_than_the_free_space_is_refused_by_the_reserve(tmp_path: Path, small_disk: Path) -> None:
    """4 MiB of zeros compress to nothing (the ratio allows it), but 3 MiB are free, 5% of 8 MiB kept back."""
    blob, diff_id = layer_bytes([f("big", b"\0" * (4 << 20))], GZIP)
    image = Layout.of_blobs(tmp_path / "image", [(blob, diff_id, GZIP)])
    fill(small_disk, leave=3 << 20)
    sn = snapshots.get("native", small_disk / "lab")
    with pytest.raises(FailedPrecondition, match=f"layer {image.layers[0].digest[7:]} needs more than the .* bytes "
                                                 f"free on the filesystem of .* leaves {_bound.RESERVE:.0%} of it free"):
        snapshots.unpack(image, sn)  # fmt: skip
    _assert_nothing_of_it(sn)


@pytest.mark.root
@pytest.mark.parametrize("name", ["native", "overlay"])
def test_a_full_disk_while_applying_is_one_line_and_nothing_stays(tmp_path: Path, small_disk: Path,
                                                                  name: str) -> None:
    """More files than the disk has inodes: ENOSPC in the middle of the layer."""
    blob, diff_id = layer_bytes([f(f"file-{i}") for i in range(INODES + 100)], GZIP)
    image = Layout.of_blobs(tmp_path / "image", [(blob, diff_id, GZIP)])
    sn = snapshots.get(name, small_disk / "lab")
    with pytest.raises(FailedPrecondition, match=f"no space left on the device applying layer "
                                                 f"{image.layers[0].digest[7:]} to "):  # fmt: skip
        snapshots.unpack(image, sn)
    _assert_nothing_of_it(sn)
    target = small_disk / "rootfs"
    with pytest.raises(FailedPrecondition, match="no space left on the device applying layer"):
        snapshots.apply_layers(image, target)
    assert not target.exists()


@pytest.mark.root
@pytest.mark.parametrize("name", ["native", "overlay"])
def test_a_full_disk_while_preparing_says_so_and_leaks_no_directory(tmp_path: Path, small_disk: Path,
                                                                    name: str) -> None:
    sn = snapshots.get(name, small_disk / "lab")
    (mount,) = sn.prepare("extract", None)
    Path(mount.source, "file").write_bytes(b"x" * 100_000)
    sn.commit("base", "extract")
    fill(small_disk, leave=0)
    with pytest.raises(FailedPrecondition, match="no space left on the device") as full:
        for n in range(100):  # the records grow with each snapshot: one of them no longer fits
            sn.prepare(f"container-{n}", "base")
    assert "not found" not in str(full.value)
    assert sorted(int(p.name) for p in (sn.root / "snapshots").iterdir()) == sorted(i.id for i in sn.walk())


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.tool("runc")
@pytest.mark.slow
def test_an_image_of_120_layers_runs_on_the_overlay_snapshotter(lab_root: Path, registry: str,
                                                                capfd: pytest.CaptureFixture) -> None:
    """120 absolute lowerdirs pass the page mount(2) reads its options from; relative ones from their
    common directory do not (labkit/snapshots/mount.py, after containerd's compactLowerdirOption)."""
    busybox = images.pull(f"{registry}/lab/busybox:latest", plain_http=True)
    (base,) = busybox.layers
    seed = builder.Layer(base.media_type, busybox.store.read(base.digest), diff_id=busybox.config["rootfs"]["diff_ids"][0])
    layers = [seed, *(builder.layer([builder.Entry(f"layers/{n:03}", data=f"{n}\n".encode())]) for n in range(1, 120))]
    builder.push(registry, "labkit-tests/snapshots", "layers120", builder.image(layers, {"Cmd": ["sh"]}))
    ref = f"{registry}/labkit-tests/snapshots:layers120"
    capfd.readouterr()
    assert main(["run", "--rm", "--plain-http", "--snapshotter", "overlay", ref, f"layers-{os.getpid()}", "--",
                 "sh", "-c", "ls /layers | wc -l; cat /layers/119"]) == 0  # fmt: skip
    assert capfd.readouterr().out.split() == ["119", "119"]
