"""unpack: images become committed snapshots named by ChainID; the result matches umoci, through both snapshotters."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit import snapshots
from labkit.errors import DataCorrupted
from snapshots.helpers import BASE, CHANGES, DOCKER_GZIP, GZIP, TAR, ZSTD, Layout, f, random_layers, tree, umoci_unpack


def native_tree(sn: snapshots.Snapshotter, top: str) -> dict:
    (mount,) = sn.view(f"view-{top[7:19]}", top)
    return tree(Path(mount.source))


@pytest.fixture
def mountpoint(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "mnt"
    target.mkdir()
    yield target
    while os.path.ismount(target):
        snapshots.unmount(target)


@pytest.mark.tool("umoci")
@pytest.mark.parametrize("seed", range(6))
def test_generated_images_unpack_as_umoci_does(tmp_path: Path, lab_root: Path, seed: int) -> None:
    layers = random_layers(seed)
    media_type = [GZIP, TAR, ZSTD, DOCKER_GZIP][seed % 4]
    image = Layout.build(tmp_path / "image", layers, media_type)
    top = snapshots.unpack(image, snapshots.get("native", lab_root))
    expected = tree(umoci_unpack(Layout.build(tmp_path / "oci", layers, GZIP).path, tmp_path / "bundle"))
    assert native_tree(snapshots.get("native", lab_root), top) == expected


@pytest.mark.root
@pytest.mark.parametrize("seed", range(4))
def test_overlay_view_equals_native(tmp_path: Path, lab_root: Path, mountpoint: Path, seed: int) -> None:
    image = Layout.build(tmp_path / "image", [BASE, CHANGES, *random_layers(seed)])
    native, overlay = snapshots.get("native", lab_root), snapshots.get("overlay", lab_root)
    top = snapshots.unpack(image, overlay)
    assert snapshots.unpack(image, native) == top
    snapshots.mount_all(overlay.view("view", top), mountpoint)
    assert tree(mountpoint) == native_tree(native, top)


@pytest.mark.root
def test_a_container_writes_copy_on_write(tmp_path: Path, lab_root: Path, mountpoint: Path) -> None:
    overlay = snapshots.get("overlay", lab_root)
    top = snapshots.unpack(Layout.build(tmp_path / "image", [BASE, CHANGES]), overlay)
    before = native_tree(overlay, top)
    overlay.remove(f"view-{top[7:19]}")
    mounts = overlay.prepare("ctr", top)
    snapshots.mount_all(mounts, mountpoint)
    (mountpoint / "etc/passwd").write_text("changed\n")
    (mountpoint / "bin/sh").unlink()
    snapshots.unmount(mountpoint)
    upper = Path(mounts[0].options[1].removeprefix("upperdir="))
    assert (upper / "etc/passwd").read_text() == "changed\n" and (upper / "bin/sh").lstat().st_rdev == 0
    overlay.remove("ctr")
    assert native_tree(overlay, top) == before  # the image's layers never changed


def test_committed_layers_are_reused(tmp_path: Path, lab_root: Path) -> None:
    sn = snapshots.get("native", lab_root)
    first = Layout.build(tmp_path / "one", [BASE, CHANGES])
    second = Layout.build(tmp_path / "two", [BASE, CHANGES, [f("extra", b"!")]])
    top = snapshots.unpack(first, sn)
    assert top == snapshots.chain_ids(first.config["rootfs"]["diff_ids"])[-1]
    assert snapshots.unpack(first, sn) == top
    prepared = []
    snapshots.unpack(second, snapshots.get("native", lab_root, lambda topic, e: prepared.append(topic)))
    assert prepared == ["/snapshot/prepare", "/snapshot/commit"]  # only the new top layer
    assert [i.kind for i in sn.walk()] == ["committed"] * 3


def test_a_bad_diff_id_commits_nothing(tmp_path: Path, lab_root: Path) -> None:
    sn = snapshots.get("native", lab_root)
    image = Layout.build(tmp_path / "image", [BASE, CHANGES])
    image.config["rootfs"]["diff_ids"][1] = "sha256:" + "0" * 64
    with pytest.raises(DataCorrupted):
        snapshots.unpack(image, sn)
    assert [i.kind for i in sn.walk()] == ["committed"]  # the first layer; no active snapshot left behind
