"""labkit.archive: the OCI layer rules, DiffIDs, and that a hostile tar never writes outside its target."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snapshots.helpers import (
    BASE,
    CHANGES,
    DOCKER_GZIP,
    GZIP,
    TAR,
    ZSTD,
    Entry,
    Layout,
    d,
    dev,
    f,
    hard,
    layer_bytes,
    sym,
    tree,
    umoci_unpack,
    wh,
)

from labkit.archive import apply_layer
from labkit.errors import DataCorrupted, InvalidArgument


def apply(target: Path, entries: list[Entry], media_type: str = TAR, **options: object) -> str:
    blob, diff_id = layer_bytes(entries, media_type)
    path = target.parent / f"layer-{diff_id[7:19]}"
    path.write_bytes(blob)
    return apply_layer(target, path, media_type, diff_id, **options)  # type: ignore[arg-type]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "rootfs").mkdir()
    return tmp_path / "rootfs"




@pytest.mark.parametrize("media_type", [TAR, GZIP, ZSTD, DOCKER_GZIP])
def test_each_media_type_gives_the_same_tree_and_diff_id(root: Path, media_type: str) -> None:
    diff_id = apply(root, BASE, media_type)
    assert diff_id == layer_bytes(BASE, TAR)[1]  # the DiffID is of the uncompressed tar
    assert (root / "bin/sh").read_bytes() == b"#!sh"
    assert os.readlink(root / "bin/ls") == "sh"


def test_whiteouts_opaque_dirs_and_replacement(root: Path) -> None:
    apply(root, BASE)
    apply(root, CHANGES)
    assert not (root / "gone").exists()
    assert sorted(os.listdir(root / "opq")) == ["c"]
    assert stat.S_IMODE((root / "bin/su").stat().st_mode) == 0o4755  # setuid survives
    assert (root / "bin/sh2").stat().st_ino == (root / "bin/sh").stat().st_ino
    assert stat.S_IMODE((root / "etc").stat().st_mode) == 0o700 and (root / "etc/passwd").exists()  # dir over dir
    assert (root / "bin/ls").read_bytes() == b"now a file"  # anything else replaces
    assert os.readlink(root / "etc/link") == "../../../../etc/shadow"  # stored verbatim
    assert not any(name.startswith(".wh.") for _, dirs, files in os.walk(root) for name in dirs + files)


def test_opaque_keeps_what_the_same_layer_wrote_before_it(root: Path) -> None:
    apply(root, BASE)
    apply(root, [f("opq/c", b"c"), f("opq/.wh..wh..opq")])
    assert os.listdir(root / "opq") == ["c"]


def test_directory_times_are_set_after_their_children(root: Path) -> None:
    apply(root, [d("a", mtime=1_000_000), f("a/b")])
    assert (root / "a").stat().st_mtime == 1_000_000


def test_a_wrong_diff_id_is_data_corruption(root: Path) -> None:
    blob, _ = layer_bytes(BASE)
    (root.parent / "blob").write_bytes(blob)
    with pytest.raises(DataCorrupted, match="DiffID"):
        apply_layer(root, root.parent / "blob", TAR, "sha256:" + "0" * 64)


def test_not_a_tar_is_an_invalid_argument(root: Path) -> None:
    (root.parent / "blob").write_bytes(b"this is not gzip")
    with pytest.raises(InvalidArgument, match="not a valid"):
        apply_layer(root, root.parent / "blob", GZIP)
    with pytest.raises(InvalidArgument, match="media type"):
        apply_layer(root, root.parent / "blob", "application/octet-stream")


@pytest.mark.parametrize("entries, message", [
    ([f(".wh..."), ], "leave its directory"),
    ([d("a"), f("a/.wh.."), ], "leave its directory"),
    ([hard("x", "../../etc/passwd")], "no such file"),
    ([f("a/..", b"x")], "parent directory"),
    ([f(".", b"x")], "root directory"),
])
def test_hostile_entries_are_refused(root: Path, entries: list[Entry], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        apply(root, entries)


def test_traversal_and_symlinked_parents_stay_inside(tmp_path: Path, root: Path) -> None:
    (tmp_path / "outside").mkdir()
    apply(root, [sym("up", "../outside"), sym("abs", str(tmp_path / "outside")), f("../../escape", b"1"),
                 f("/abs-name", b"2"), f("up/through-link", b"3"), f("abs/through-abs-link", b"4"),
                 sym("loop", "loop"), d("d"), hard("d/h", "up/../../abs-name")])
    assert os.listdir(tmp_path / "outside") == []
    assert (root / "escape").read_bytes() == b"1" and (root / "abs-name").read_bytes() == b"2"
    assert (root / "outside/through-link").read_bytes() == b"3"  # ../outside re-rooted at the root
    assert (root / str(tmp_path).lstrip("/") / "outside/through-abs-link").read_bytes() == b"4"
    assert (root / "d/h").read_bytes() == b"2"


def test_a_file_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path, root: Path) -> None:
    (tmp_path / "victim").write_bytes(b"safe")
    apply(root, [sym("x", str(tmp_path / "victim")), f("x", b"pwned", 0o777)])
    assert (tmp_path / "victim").read_bytes() == b"safe"
    assert stat.S_IMODE((tmp_path / "victim").stat().st_mode) != 0o777
    assert (root / "x").read_bytes() == b"pwned"


@pytest.mark.root
def test_overlay_form_of_whiteouts(root: Path) -> None:
    apply(root, [d("opq"), f("opq/.wh..wh..opq"), wh("gone")], lowers=[])
    whiteout = (root / "gone").lstat()
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(root / "opq", "trusted.overlay.opaque") == b"y"


@pytest.mark.root
def test_owners_xattrs_and_devices(root: Path) -> None:
    file, data = f("owned", b"x", uid=1234, gid=5678)
    file.pax_headers = {"SCHILY.xattr.user.note": "hello"}
    apply(root, [(file, data), dev("null", 1, 3)])
    st = (root / "owned").stat()
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert os.getxattr(root / "owned", "user.note") == b"hello"
    assert (root / "null").stat().st_rdev == os.makedev(1, 3)


@pytest.mark.tool("unshare")
def test_device_nodes_are_skipped_in_a_user_namespace(tmp_path: Path, root: Path) -> None:
    file, data = f("file", b"kept")
    file.pax_headers = {"SCHILY.xattr.trusted.note": "host only", "SCHILY.xattr.user.note": "anyone"}
    blob, diff_id = layer_bytes([dev("null", 1, 3), (file, data)])
    (tmp_path / "layer.tar").write_bytes(blob)
    script = f"from pathlib import Path; from labkit.archive import apply_layer; " \
             f"apply_layer(Path({str(root)!r}), Path({str(tmp_path / 'layer.tar')!r}), {TAR!r}, {diff_id!r})"
    run = subprocess.run(["unshare", "--user", "--map-root-user", sys.executable, "-c", script],
                         capture_output=True, text=True)
    if "Operation not permitted" in run.stderr:
        pytest.skip("this host does not allow user namespaces")
    assert run.returncode == 0, run.stderr
    assert os.listdir(root) == ["file"]
    assert os.listxattr(root / "file") == ["user.note"]  # trusted.* needs the host's root: skipped, as containerd does


@pytest.mark.tool("umoci")
@pytest.mark.parametrize("media_type", [TAR, GZIP, ZSTD, DOCKER_GZIP])
def test_same_tree_as_umoci(tmp_path: Path, root: Path, media_type: str) -> None:
    layers = [[*BASE, dev("null", 1, 3)], CHANGES]
    ours = Layout.build(tmp_path / "ours", layers, media_type)
    for layer, diff_id in zip(ours.layers, ours.config["rootfs"]["diff_ids"]):
        apply_layer(root, ours.store.path(layer.digest), layer.media_type, diff_id)
    # umoci 0.4 reads OCI tar and tar+gzip layers only: it unpacks the same tars, gzipped
    theirs = Layout.build(tmp_path / "theirs", layers, GZIP)
    assert tree(root) == tree(umoci_unpack(theirs.path, tmp_path / "bundle"))


# -- property: hostile tars never write outside the target ---------------------------------------
_COMPONENT = st.sampled_from(["a", "b", "..", ".", "", ".wh.a", ".wh...", ".wh..wh..opq", "outside", "sentinel"])
_NAME = st.lists(_COMPONENT, min_size=1, max_size=5).map("/".join) | st.sampled_from(["/", "/a", "/../a", "../outside/x"])
_TARGET = _NAME | st.sampled_from(["/", "..", "../..", "../outside", "../outside/sentinel", "/proc/self/root"])


@st.composite
def _entries(draw: st.DrawFn) -> list[Entry]:
    kinds = {"dir": lambda: d(draw(_NAME), draw(st.sampled_from([0o755, 0o777, 0o4755]))),
             "file": lambda: f(draw(_NAME), b"pwned", 0o777),
             "symlink": lambda: sym(draw(_NAME), draw(_TARGET)),
             "hardlink": lambda: hard(draw(_NAME), draw(_TARGET))}
    return [kinds[draw(st.sampled_from(sorted(kinds)))]() for _ in range(draw(st.integers(1, 8)))]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layers=st.lists(_entries(), min_size=1, max_size=3), overlay=st.booleans() if os.geteuid() == 0 else st.just(False))
def test_nothing_is_ever_written_outside_the_target(tmp_path_factory: pytest.TempPathFactory,
                                                    layers: list[list[Entry]], overlay: bool) -> None:
    base = tmp_path_factory.mktemp("hostile")
    (base / "outside").mkdir()
    (base / "outside/sentinel").write_bytes(b"safe")
    (base / "rootfs").mkdir()
    before = tree(base / "outside")
    for entries in layers:
        try:
            apply(base / "rootfs", entries, **({"lowers": [base / "outside"]} if overlay else {}))
        except InvalidArgument:
            pass
    for name in os.listdir(base):
        if name.startswith("layer-"):
            os.unlink(base / name)
    assert sorted(os.listdir(base)) == ["outside", "rootfs"]
    assert tree(base / "outside") == before
