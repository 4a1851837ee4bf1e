"""The lab registry serves the seed images, readable by the real skopeo."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from labkit import builder
from labkit.builder import Entry
from labkit.lab import registry as lab_registry
from labkit.lab import seed

pytestmark = pytest.mark.registry


def test_catalog_lists_the_seed_images(registry: str) -> None:
    served = lab_registry.catalog(registry)
    for image in seed.seed_images():
        assert image.tag in served[image.repository]


@pytest.mark.tool("skopeo")
@pytest.mark.parametrize("image", [s.repository for s in seed.seed_images()])
def test_skopeo_reads_each_seed_image(registry: str, image: str) -> None:
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{registry}/{image}:latest"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["Os"] == "linux"


def test_seeding_again_changes_nothing(registry: str) -> None:
    before = {s.repository: d for s, d in seed.seed(registry)}
    after = {s.repository: d for s, d in seed.seed(registry)}
    assert before == after


def test_multiarch_is_an_index_of_two_platforms(registry: str) -> None:
    response = httpx.get(f"http://{registry}/v2/lab/multiarch/manifests/latest",
                         headers={"Accept": builder.MEDIA_TYPES["oci"]["index"]})
    platforms = {m["platform"]["architecture"] for m in response.json()["manifests"]}
    assert seed.host_platform()["architecture"] in platforms and len(platforms) == 2


def test_push_names_the_manifest_by_its_digest(registry: str) -> None:
    img = builder.image([builder.layer([Entry("hello", data=b"from a test\n")])], {"Cmd": ["true"]})
    digest = builder.push(registry, "test/builder", "v1", img)
    response = httpx.head(f"http://{registry}/v2/test/builder/manifests/v1",
                          headers={"Accept": builder.MEDIA_TYPES["oci"]["manifest"]})
    assert response.headers["Docker-Content-Digest"] == digest == img.manifest.digest
