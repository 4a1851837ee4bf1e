"""The image builder: reproducible blobs, right DiffIDs, every layer compression."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest
import zstandard

from labkit import builder
from labkit.builder import Entry
from labkit.errors import InvalidArgument


def _members(tar_bytes: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_layers_are_reproducible() -> None:
    entries = [Entry("etc", "dir"), Entry("etc/hello", data=b"hi\n")]
    assert builder.layer(entries).digest == builder.layer(entries).digest


def test_diff_id_is_the_digest_of_the_uncompressed_tar() -> None:
    gz = builder.layer([Entry("a", data=b"a")])
    tar = gzip.decompress(gz.data)
    assert gz.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()
    assert gz.digest != gz.diff_id
    zst = builder.layer([Entry("a", data=b"a")], compression="zstd")
    assert zstandard.ZstdDecompressor().decompressobj().decompress(zst.data) == tar
    assert builder.layer([Entry("a", data=b"a")], compression="none").digest == gz.diff_id


def test_entries_keep_kinds_modes_and_links() -> None:
    members = _members(builder.layer([
        Entry("d", "dir", mode=0o750),
        Entry("d/s", data=b"x", mode=0o4755),
        Entry("d/l", "symlink", link="../etc/passwd"),
        Entry("d/h", "hardlink", link="d/s"),
        Entry("d/x", xattrs={"user.note": "hello"}),
    ], compression="none").data)
    assert members["d"].isdir() and members["d"].mode == 0o750
    assert members["d/s"].mode == 0o4755
    assert members["d/l"].issym() and members["d/l"].linkname == "../etc/passwd"
    assert members["d/h"].islnk() and members["d/h"].linkname == "d/s"
    assert members["d/x"].pax_headers["SCHILY.xattr.user.note"] == "hello"


def test_image_config_lists_diff_ids_and_manifest_points_at_blobs() -> None:
    layers = [builder.layer([Entry("a", data=b"1")]), builder.layer([Entry("b", data=b"2")])]
    img = builder.image(layers, {"Cmd": ["sh"]}, fmt="docker")
    config, manifest = json.loads(img.config.data), json.loads(img.manifest.data)
    assert config["rootfs"]["diff_ids"] == [layer.diff_id for layer in layers]
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest["config"]["digest"] == img.config.digest
    assert [entry["digest"] for entry in manifest["layers"]] == [layer.digest for layer in layers]


def test_docker_format_has_no_zstd_layers() -> None:
    with pytest.raises(InvalidArgument, match="zstd"):
        builder.layer([], compression="zstd", fmt="docker")
