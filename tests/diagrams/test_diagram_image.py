"""The image content graph is drawn from the pulled image's real descriptors."""

from __future__ import annotations

import pytest

from labkit.diagrams.image import image_graph
from labkit.images import pull

pytestmark = [pytest.mark.registry]


def test_index_graph_shows_every_platform_and_the_pulled_path(registry: str, lab_root) -> None:
    image = pull(f"{registry}/lab/multiarch", plain_http=True, platform="linux/arm64")
    source = image_graph(image).source
    short = image.target.digest[:19]  # "sha256:" + 12 hex digits
    assert f"index\noci index.v1+json\n{short}\n{image.target.size} bytes" in source
    assert "manifest linux/arm64" in source and "index -> manifest\n" in source
    assert 'manifest linux/amd64' in source and "index -> other0 [style=dashed]" in source
    assert "linux/arm64\ncmd: sh" in source
    assert source.count("manifest -> layer") == len(image.layers)


def test_single_manifest_graph_with_docker_media_types(registry: str, lab_root) -> None:
    image = pull(f"{registry}/lab/layers", plain_http=True)
    source = image_graph(image).source
    assert "index" not in source and "name -> manifest" in source
    assert "docker manifest.v2+json" in source and "docker container.image.v1+json" in source
    assert source.count("docker image.rootfs.diff.tar.gzip") == len(image.layers)
