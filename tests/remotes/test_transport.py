"""Retries and backoff: 429 with Retry-After, 5xx, dropped connections (through the fault proxy)."""

from __future__ import annotations

import time

import pytest

import labkit
from labkit.reference import Reference
from labkit.remotes import Registry

from faultproxy import FaultProxy

pytestmark = [pytest.mark.registry]


def test_429_waits_for_retry_after_then_succeeds(registry: str, lab_root) -> None:
    with FaultProxy(registry) as proxy:
        proxy.status(429, match="/manifests/", times=2, headers={"Retry-After": "1"})
        started = time.monotonic()
        labkit.pull(f"{proxy.address}/lab/busybox", plain_http=True)
        assert time.monotonic() - started >= 2.0
        assert [s.status for s in proxy.seen("HEAD", "/manifests/")] == [429, 429, 200]


def test_503_is_retried_with_backoff(registry: str, lab_root) -> None:
    with FaultProxy(registry) as proxy:
        proxy.status(503, match="/blobs/", times=3)
        image = labkit.pull(f"{proxy.address}/lab/busybox", plain_http=True)
        assert image.store.exists(image.layers[0].digest)
        assert [s.status for s in proxy.seen("GET", "/blobs/")].count(503) == 3


def test_a_503_that_never_ends_is_unavailable(registry: str) -> None:
    ref = Reference.parse(f"{registry}/lab/busybox")
    with FaultProxy(registry) as proxy, Registry(proxy.address, plain_http=True) as client:
        client.auth.transport.backoff = 0.01
        proxy.status(503, match="/manifests/", times=100)
        with pytest.raises(labkit.Unavailable, match="503"):
            client.resolve(ref)
        assert len(proxy.seen("HEAD")) == client.auth.transport.attempts


def test_nothing_listening_is_unavailable(lab_root) -> None:
    with Registry("127.0.0.1:9", plain_http=True) as client:
        client.auth.transport.backoff = 0.01
        with pytest.raises(labkit.Unavailable, match="127.0.0.1:9"):
            client.ping()
