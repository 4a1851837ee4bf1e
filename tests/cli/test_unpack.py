"""``labkit unpack``: pulled from the lab registry, the same root filesystem as ``umoci unpack``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from snapshots.helpers import GZIP, Layout, builder_entries, random_layers, tree, umoci_unpack

from labkit import builder
from labkit.cli import main


@pytest.mark.registry
@pytest.mark.tool("umoci", "skopeo")
def test_lab_layers_as_umoci_unpacks_it(tmp_path: Path, lab_root: Path, registry: str, capsys: pytest.CaptureFixture) -> None:
    ref = f"{registry}/lab/layers:latest"
    assert main(["unpack", "--plain-http", ref, str(tmp_path / "ours")]) == 0
    assert "unpacked 4 layers" in capsys.readouterr().out
    copy = subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}",
                           f"oci:{tmp_path / 'layout'}:latest"], capture_output=True, text=True)
    assert copy.returncode == 0, copy.stderr
    assert tree(tmp_path / "ours") == tree(umoci_unpack(tmp_path / "layout", tmp_path / "bundle"))


@pytest.mark.registry
@pytest.mark.tool("umoci")
@pytest.mark.parametrize("seed, fmt, compression", [(0, "oci", "gzip"), (1, "oci", "none"), (2, "oci", "zstd"),
                                                     (3, "docker", "gzip")])
def test_generated_images_as_umoci_unpacks_them(tmp_path: Path, lab_root: Path, registry: str,
                                                seed: int, fmt: str, compression: str) -> None:
    layers = random_layers(seed, count=4)
    built = builder.image([builder.layer(builder_entries(layer), compression=compression, fmt=fmt) for layer in layers], {}, fmt=fmt)
    builder.push(registry, "labkit-tests/unpack", f"seed{seed}", built)
    assert main(["unpack", "--plain-http", f"{registry}/labkit-tests/unpack:seed{seed}", str(tmp_path / "ours")]) == 0
    expected = umoci_unpack(Layout.build(tmp_path / "layout", layers, GZIP).path, tmp_path / "bundle")
    assert tree(tmp_path / "ours") == tree(expected)


@pytest.mark.registry
def test_a_directory_that_is_not_empty_is_refused(tmp_path: Path, lab_root: Path, registry: str,
                                                  capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full/file").touch()
    assert main(["unpack", "--plain-http", f"{registry}/lab/busybox:latest", str(tmp_path / "full")]) == 1
    assert capsys.readouterr().err == f"labkit: {tmp_path / 'full'} is not empty\n"
