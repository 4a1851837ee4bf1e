"""Pulls against the real lab registry: seed images, images of our own, faults on the way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from faultproxy import FaultProxy

import labkit
from labkit import builder
from labkit.descriptor import DOCKER_MANIFEST, OCI_INDEX
from labkit.images import ImageStore, pull
from labkit.platforms import Platform
from labkit.reference import Reference
from labkit.remotes import Registry, Transcript

pytestmark = [pytest.mark.registry]


def _events() -> tuple[list[tuple[str, dict]], callable]:
    events: list[tuple[str, dict]] = []
    return events, lambda topic, payload: events.append((topic, payload))


def test_anonymous_pull_of_the_busybox_seed(registry: str, lab_root: Path) -> None:
    events, publish = _events()
    image = pull(f"{registry}/lab/busybox", plain_http=True, publish=publish)
    assert image.name == f"{registry}/lab/busybox:latest"
    assert image.target == image.manifest_descriptor and image.manifest["layers"][0]["digest"] == image.layers[0].digest
    assert image.config["config"]["Cmd"] == ["sh"] and len(image.config["rootfs"]["diff_ids"]) == len(image.layers) == 1
    blobs = [image.target.digest, image.manifest["config"]["digest"], image.layers[0].digest]
    assert all(image.store.exists(digest) for digest in blobs)
    assert [t for t, _ in events] == ["/content/create"] * 3 + ["/images/create"]
    assert sorted(p["digest"] for t, p in events[:3]) == sorted(blobs)
    assert events[-1][1] == {"name": image.name, "labels": {}}
    record = json.loads(next((lab_root / "images").glob("*.json")).read_text())
    assert record["name"] == image.name and record["target"]["digest"] == image.target.digest


def test_a_second_pull_fetches_no_blob_again(registry: str, lab_root: Path) -> None:
    pull(f"{registry}/lab/busybox", plain_http=True)
    events, publish = _events()
    transcript = Transcript()
    pull(f"{registry}/lab/busybox", plain_http=True, transcript=transcript, publish=publish)
    assert [(e.method, "/blobs/" in e.url) for e in transcript] == [("HEAD", False)]
    assert events == [("/images/update", {"name": f"{registry}/lab/busybox:latest", "labels": {}})]


def test_index_with_several_platforms(registry: str, lab_root: Path) -> None:
    host = pull(f"{registry}/lab/multiarch", plain_http=True)
    assert host.target.media_type == OCI_INDEX and host.manifest_descriptor != host.target
    assert host.config["architecture"] == Platform.host().architecture
    arm = pull(f"{registry}/lab/multiarch", plain_http=True, platform="linux/arm64")
    assert arm.target == host.target and arm.config["architecture"] == "arm64"
    assert arm.manifest_descriptor.platform == Platform.parse("linux/arm64")
    with pytest.raises(labkit.NotFound, match=r"no manifest for linux/s390x .*linux/amd64, linux/arm64"):
        pull(f"{registry}/lab/multiarch", plain_http=True, platform="linux/s390x")


def test_docker_schema2_image(registry: str, lab_root: Path) -> None:
    image = pull(f"{registry}/lab/layers", plain_http=True)
    assert image.target.media_type == DOCKER_MANIFEST
    assert {layer.media_type for layer in image.layers} == {"application/vnd.docker.image.rootfs.diff.tar.gzip"}
    assert len(image.layers) == len(image.config["rootfs"]["diff_ids"]) > 1


def test_pull_by_digest(registry: str, lab_root: Path) -> None:
    by_tag = pull(f"{registry}/lab/multiarch", plain_http=True)
    pinned = pull(f"{registry}/lab/multiarch@{by_tag.target.digest}", plain_http=True)
    assert pinned.name == f"{registry}/lab/multiarch@{by_tag.target.digest}"
    assert pinned.target == by_tag.target and pinned.manifest == by_tag.manifest


def test_missing_tag(registry: str, lab_root: Path) -> None:
    with pytest.raises(labkit.NotFound, match="lab/busybox:missing"):
        pull(f"{registry}/lab/busybox:missing", plain_http=True)
    assert ImageStore().images() == []


def test_tampered_blob_names_the_digest_and_commits_nothing(registry: str, lab_root: Path) -> None:
    layer = pull(f"{registry}/lab/busybox", plain_http=True).layers[0]
    ImageStore().remove(f"{registry}/lab/busybox")
    store = ImageStore().content
    store.delete(layer.digest)
    with FaultProxy(registry) as proxy:
        proxy.tamper(match=f"/blobs/{layer.digest}")
        with pytest.raises(labkit.DataCorrupted, match=f"blob {layer.digest} is corrupt.*not committed"):
            pull(f"{proxy.address}/lab/busybox", plain_http=True)
    assert not store.exists(layer.digest) and list(store.ingest_dir.iterdir()) == []
    assert ImageStore().images() == []


@pytest.mark.parametrize("server_ignores_range", [False, True])
def test_a_cut_connection_resumes(registry: str, lab_root: Path, server_ignores_range: bool) -> None:
    """The pull resumes with Range (a 206 sends the rest); a server that answers 200 instead sends it all again."""
    ref = Reference.parse(f"{registry}/lab/busybox")
    with Registry(registry, plain_http=True) as client:
        layer = json.loads(client.fetch_manifest(ref.path, client.resolve(ref)))["layers"][0]["digest"]
    with FaultProxy(registry) as proxy:
        proxy.cut(match=f"/blobs/{layer}", after=500_000)
        if server_ignores_range:
            proxy.ignore_range(match=f"/blobs/{layer}")
        image = pull(f"{proxy.address}/lab/busybox", plain_http=True)
        resumed = [s for s in proxy.seen("GET", "/blobs/") if "Range" in s.headers]
    assert [s.status for s in resumed] == [200 if server_ignores_range else 206]
    assert resumed[0].headers["Range"] == "bytes=500000-" and image.store.exists(image.layers[0].digest)


def test_layers_download_concurrently(registry: str, lab_root: Path) -> None:
    with FaultProxy(registry) as proxy:
        proxy.delay(1.0, match="/blobs/", times=5)  # lab/layers: a config and four layers
        pull(f"{proxy.address}/lab/layers", plain_http=True)
        arrivals = sorted(seen.arrived for seen in proxy.seen("GET", "/blobs/"))
    # one after another, each request would arrive a second after the previous one
    assert len(arrivals) == 5 and arrivals[3] - arrivals[0] < 0.9


OWN = "labkit-tests/images"


@pytest.mark.parametrize(("fmt", "compression"), [("oci", "gzip"), ("oci", "zstd"), ("oci", "none"), ("docker", "gzip")])
def test_own_images_in_every_layer_format(registry: str, lab_root: Path, fmt: str, compression: str) -> None:
    layers = [builder.layer([builder.Entry(f"{n}.txt", data=f"layer {n}\n".encode())], compression=compression, fmt=fmt)
              for n in range(3)]  # fmt: skip
    built = builder.image(layers, {"Cmd": ["cat", "/0.txt"]}, platform={"os": "linux", "architecture": "amd64"}, fmt=fmt)
    top = builder.index([built], fmt=fmt)
    builder.push(registry, OWN, f"{fmt}-{compression}", top)
    image = pull(f"{registry}/{OWN}:{fmt}-{compression}", plain_http=True, platform="linux/amd64")
    assert image.target.digest == top.manifest.digest
    assert [layer.digest for layer in image.layers] == [layer.digest for layer in layers]
    assert image.config["rootfs"]["diff_ids"] == [layer.diff_id for layer in layers]
    assert all(image.store.read(layer.digest) == built.data for layer, built in zip(image.layers, layers))


def test_image_store_get_list_remove(registry: str, lab_root: Path) -> None:
    events, publish = _events()
    for name in ("lab/busybox", "lab/layers"):
        pull(f"{registry}/{name}", plain_http=True)
    store = ImageStore()
    assert [image.name for image in store.images()] == [f"{registry}/lab/busybox:latest", f"{registry}/lab/layers:latest"]
    assert store.get(f"{registry}/lab/busybox").config["config"]["Cmd"] == ["sh"]
    store.remove(f"{registry}/lab/busybox", publish=publish)
    assert events == [("/images/delete", {"name": f"{registry}/lab/busybox:latest"})]
    with pytest.raises(labkit.NotFound, match="not found"):
        store.get(f"{registry}/lab/busybox:latest")
    with pytest.raises(labkit.NotFound):
        store.remove(f"{registry}/lab/busybox")


_PEAK_RSS = """
import resource, sys, labkit
labkit.pull(sys.argv[1], plain_http=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB
"""


def _peak_kib(ref: str) -> int:
    out = subprocess.run([sys.executable, "-c", _PEAK_RSS, ref], check=True, capture_output=True, text=True).stdout
    return int(out)


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_layer_size(registry: str, lab_root: Path) -> None:
    """A 200 MB layer streams through a fixed-size buffer: the pull's peak RSS stays near a tiny pull's."""
    big = builder.layer([builder.Entry("big.bin", data=bytes(range(256)) * (200 * 4096))], compression="none")
    builder.push(registry, OWN, "big", builder.image([big], {"Cmd": ["true"]}))
    del big
    small, large = _peak_kib(f"{registry}/lab/busybox"), _peak_kib(f"{registry}/{OWN}:big")
    assert large - small < 30 * 1024, f"peak RSS {small} KiB for 1 MB, {large} KiB for 200 MB"
