"""Both snapshotters follow containerd's model: prepare, commit, view, remove, events, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from labkit import snapshots
from labkit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound


@pytest.fixture(params=["native", "overlay"])
def events(request: pytest.FixtureRequest, lab_root: Path) -> tuple[snapshots.Snapshotter, list]:
    seen: list[tuple[str, dict]] = []
    return snapshots.get(request.param, lab_root, lambda topic, payload: seen.append((topic, payload))), seen


def test_the_lifecycle_and_its_events(events: tuple[snapshots.Snapshotter, list], lab_root: Path) -> None:
    sn, seen = events
    assert sn.root == lab_root / "snapshots" / sn.name
    (mount,) = sn.prepare("extract-1", None)
    assert mount.type == "bind" and mount.options == ["rbind", "rw"]
    Path(mount.source, "base").write_text("base layer")
    sn.commit("layer0", "extract-1")
    mounts = sn.prepare("container", "layer0")
    assert [(i.name, i.kind, i.parent) for i in sn.walk()] == [("layer0", "committed", None), ("container", "active", "layer0")]
    assert sn.mounts("container") == mounts
    sn.remove("container")  # the container's layer goes, the image's layers stay
    assert [i.name for i in sn.walk()] == ["layer0"]
    assert seen == [("/snapshot/prepare", {"key": "extract-1", "parent": ""}),
                    ("/snapshot/commit", {"key": "extract-1", "name": "layer0"}),
                    ("/snapshot/prepare", {"key": "container", "parent": "layer0"}),
                    ("/snapshot/remove", {"key": "container"})]


def test_the_rules(events: tuple[snapshots.Snapshotter, list]) -> None:
    sn, _ = events
    sn.prepare("a", None)
    with pytest.raises(AlreadyExists):
        sn.prepare("a", None)
    with pytest.raises(FailedPrecondition, match="not a committed"):
        sn.prepare("b", "a")
    with pytest.raises(NotFound):
        sn.prepare("b", "nothing")
    sn.commit("A", "a")
    with pytest.raises(NotFound):
        sn.stat("a")
    with pytest.raises(FailedPrecondition, match="only an active"):
        sn.commit("B", "A")
    with pytest.raises(FailedPrecondition, match="committed"):
        sn.mounts("A")
    sn.view("v", "A")
    with pytest.raises(FailedPrecondition, match="children: v"):
        sn.remove("A")
    assert sn.stat("v").kind == "view" and sn.mounts("v")[0].readonly


def test_native_copies_the_parent(lab_root: Path) -> None:
    sn = snapshots.get("native", lab_root)
    (base,) = sn.prepare("k", None)
    Path(base.source, "file").write_text("one")
    sn.commit("L", "k")
    (child,) = sn.prepare("c", "L")
    Path(child.source, "file").write_text("changed")
    assert Path(base.source, "file").read_text() == "one"


def test_overlay_stacks_the_parents(lab_root: Path) -> None:
    sn = snapshots.get("overlay", lab_root)
    for i, parent in enumerate([None, "L0", "L1"]):
        sn.prepare(f"k{i}", parent)
        sn.commit(f"L{i}", f"k{i}")
    (mount,) = sn.prepare("c", "L2")
    fs = {i.name: str(lab_root / f"snapshots/overlay/snapshots/{i.id}/fs") for i in sn.walk()}
    assert mount.type == "overlay"
    assert mount.options == [f"workdir={Path(fs['c']).parent}/work", f"upperdir={fs['c']}",
                             f"lowerdir={fs['L2']}:{fs['L1']}:{fs['L0']}"]
    assert sn.view("v1", "L0")[0] == snapshots.Mount("bind", fs["L0"], ["rbind", "ro"])
    assert sn.view("v2", "L1")[0].options == [f"lowerdir={fs['L1']}:{fs['L0']}", "ro"]


def test_unknown_snapshotter(lab_root: Path) -> None:
    with pytest.raises(InvalidArgument, match="unknown snapshotter"):
        snapshots.get("zfs", lab_root)


def test_chain_ids() -> None:
    # image spec, config.md: ChainID(L0) = DiffID(L0), ChainID(L0|L1) = sha256(ChainID(L0) + " " + DiffID(L1))
    diff_ids = ["sha256:" + "a" * 64, "sha256:" + "b" * 64]
    chain = snapshots.chain_ids(diff_ids)
    assert chain[0] == diff_ids[0]
    assert chain[1] == "sha256:" + hashlib.sha256(f"{diff_ids[0]} {diff_ids[1]}".encode()).hexdigest()


@pytest.mark.root
def test_unmounting_what_is_not_mounted(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="^umount .*: Invalid argument"):
        snapshots.unmount(tmp_path)
