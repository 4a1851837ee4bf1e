"""Retries and backoff: 429 with Retry-After, 5xx, dropped connections (through the fault proxy); big body reads."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from faultproxy import FaultProxy

import labkit
from labkit.reference import Reference
from labkit.remotes import Registry
from labkit.remotes._transport import iter_body


@pytest.mark.registry
def test_429_waits_for_retry_after_then_succeeds(registry: str, lab_root) -> None:
    with FaultProxy(registry) as proxy:
        proxy.status(429, match="/manifests/", times=2, headers={"Retry-After": "1"})
        started = time.monotonic()
        labkit.pull(f"{proxy.address}/lab/busybox", plain_http=True)
        assert time.monotonic() - started >= 2.0
        assert [s.status for s in proxy.seen("HEAD", "/manifests/")] == [429, 429, 200]


@pytest.mark.registry
def test_503_is_retried_with_backoff(registry: str, lab_root) -> None:
    with FaultProxy(registry) as proxy:
        proxy.status(503, match="/blobs/", times=3)
        image = labkit.pull(f"{proxy.address}/lab/busybox", plain_http=True)
        assert image.store.exists(image.layers[0].digest)
        assert [s.status for s in proxy.seen("GET", "/blobs/")].count(503) == 3


@pytest.mark.registry
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


# -- iter_body: a body read from the connection in big pieces ---------------------------------------

BODY = random.Random(3).randbytes(3 * 1024 * 1024 + 17)  # more than a first read, not a whole number of reads


@pytest.fixture(scope="module")
def origin() -> Iterator[tuple[str, list[int]]]:
    """A loopback HTTP/1.1 server: ``/length`` and ``/chunked`` serve BODY, ``/small`` 100 bytes of it, ``/short``
    promises BODY but closes half-way. The list holds the client port of every request (one port, one connection)."""
    ports: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            ports.append(self.client_address[1])
            body = BODY[:100] if self.path == "/small" else BODY
            self.send_response(200)
            if self.path == "/chunked":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(body), 65536):
                    piece = body[start : start + 65536]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path == "/short":
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
            else:
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ports
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _get(client: httpx.Client, url: str) -> list[bytes]:
    with client.stream("GET", url) as response:
        return list(iter_body(response))


@pytest.mark.parametrize("path", ["/length", "/chunked"])
def test_iter_body_gives_the_whole_body_in_order(origin: tuple[str, list[int]], path: str) -> None:
    """Read past h11 (Content-Length) or through it (chunked: h11 removes the framing), the bytes are the body."""
    with httpx.Client() as client:
        chunks = _get(client, origin[0] + path)
    assert b"".join(chunks) == BODY and max(map(len, chunks)) <= 1024 * 1024


def test_iter_body_keeps_the_connection_of_a_small_body(origin: tuple[str, list[int]]) -> None:
    """A body that came whole with the headers went through h11, which saw it end: the next request reuses it."""
    url, ports = origin
    ports.clear()
    with httpx.Client() as client:
        assert _get(client, url + "/small") == [BODY[:100]] and _get(client, url + "/small") == [BODY[:100]]
    assert len(ports) == 2 and ports[0] == ports[1]


def test_iter_body_cut_short_is_a_transport_error(origin: tuple[str, list[int]]) -> None:
    """A connection closed before Content-Length bytes is httpx's error, which fetch_blob answers with a resume."""
    with httpx.Client() as client, pytest.raises(httpx.RemoteProtocolError, match="body ended after"):
        _get(client, origin[0] + "/short")
