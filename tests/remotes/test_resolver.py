"""Resolve, fetch manifests, stream blobs with resume, against the lab registry (seed images)."""

from __future__ import annotations

import hashlib
import json

import pytest
from faultproxy import FaultProxy

import labkit
from labkit.content import Store
from labkit.descriptor import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Descriptor
from labkit.reference import Reference
from labkit.remotes import ACCEPT, Registry, Transcript

pytestmark = [pytest.mark.registry]


def _resolve(host: str, path: str) -> tuple[Descriptor, bytes]:
    ref = Reference.parse(f"{host}/{path}")
    with Registry(host, plain_http=True) as client:
        desc = client.resolve(ref)
        return desc, client.fetch_manifest(ref.path, desc)


@pytest.mark.parametrize(("path", "media_type"), [
    ("lab/busybox", OCI_MANIFEST), ("lab/multiarch", OCI_INDEX), ("lab/layers", DOCKER_MANIFEST),
])  # fmt: skip
def test_resolve_gives_a_descriptor_the_bytes_match(registry: str, path: str, media_type: str) -> None:
    desc, data = _resolve(registry, path)
    assert desc.media_type == media_type == json.loads(data)["mediaType"]
    assert desc.digest == "sha256:" + hashlib.sha256(data).hexdigest() and desc.size == len(data)


def test_resolve_sends_every_manifest_type_in_accept(registry: str) -> None:
    transcript = Transcript()
    with Registry(registry, plain_http=True, transcript=transcript) as client:
        client.resolve(Reference.parse(f"{registry}/lab/busybox"))
    [head] = list(transcript)
    assert head.method == "HEAD" and head.request_headers["accept"] == ACCEPT
    assert ACCEPT.count("application/") == 4


def test_missing_tag_is_not_found(registry: str) -> None:
    with pytest.raises(labkit.NotFound, match="lab/busybox:no-such-tag"):
        _resolve(registry, "lab/busybox:no-such-tag")


def test_tampered_manifest_is_refused(registry: str) -> None:
    with FaultProxy(registry) as proxy:
        proxy.tamper(match="/manifests/sha256:")
        with pytest.raises(labkit.DataCorrupted, match="manifest sha256:[0-9a-f]{64} is corrupt"):
            _resolve(proxy.address, "lab/busybox")


def test_cut_connection_resumes_with_range(registry: str, lab_root) -> None:
    _, data = _resolve(registry, "lab/busybox")
    layer = Descriptor.from_dict(json.loads(data)["layers"][0])
    store = Store()
    with FaultProxy(registry) as proxy, Registry(proxy.address, plain_http=True) as client:
        proxy.cut(match="/blobs/", after=300_000)
        proxy.cut(match="/blobs/", after=100_000)  # the resumed request is cut again, further on
        with store.writer(layer.digest, layer.size) as writer:
            client.fetch_blob("lab/busybox", layer, writer)
            assert writer.commit()
        ranges = [seen.headers.get("Range") for seen in proxy.seen("GET", "/blobs/")]
    assert ranges == [None, "bytes=300000-", "bytes=400000-"]
    assert hashlib.sha256(store.path(layer.digest).read_bytes()).hexdigest() == layer.digest.split(":")[1]


def test_resolve_falls_back_to_get_when_head_says_too_little(registry: str) -> None:
    """A registry (or proxy) that drops headers from HEAD: the GET's bytes give digest, size and type."""
    expected, _ = _resolve(registry, "lab/layers")
    with FaultProxy(registry) as proxy:
        proxy.status(200, match="/manifests/latest", method="HEAD")  # a bare 200: no digest, no type
        desc, _ = _resolve(proxy.address, "lab/layers")
        assert [s.method for s in proxy.seen("HEAD")] == ["HEAD"] and len(proxy.seen("GET", "/manifests/latest")) == 1
    assert desc == expected
