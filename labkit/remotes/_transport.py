"""The transport: one request sent until it gets a real answer.

Registries and the networks before them fail in ordinary ways, and a client that
gives up at the first one is useless on a busy day. This layer:

- retries ``429 Too Many Requests`` after the ``Retry-After`` the server asked for
  (distribution spec, error code ``TOOMANYREQUESTS``), and ``5xx`` and dropped
  connections with exponential backoff;
- follows redirects itself (blobs are often served from another host, e.g. object
  storage), and never sends ``Authorization`` to a host other than the one it was
  meant for (reference.md, "Registry");
- hands every response to the transcript, if there is one;
- reads a large body in big pieces straight from the connection (``iter_body``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpcore
import httpx

from ..errors import Unavailable
from ._transcript import Transcript

__all__ = ["Transport", "iter_body"]

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_REDIRECTS = 10
_MAX_RETRY_AFTER = 30.0  # seconds: never let a server park a pull for longer
#: bytes asked of the connection per read of a body: containerd's ``content.Copy`` copies through 1 MiB buffers
_READ_SIZE = 1 << 20


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _retry_after(response: httpx.Response, default: float) -> float:
    """Seconds to wait: ``Retry-After`` in seconds if given (RFC 9110 section 10.2.3), else ``default``."""
    value = response.headers.get("retry-after", "")
    return min(float(value), _MAX_RETRY_AFTER) if value.isdigit() else default


class Transport:
    """Send requests through an ``httpx.Client`` with retries, backoff and careful redirects."""

    def __init__(
        self, client: httpx.Client, *, transcript: Transcript | None = None, attempts: int = 5, backoff: float = 0.2
    ) -> None:
        self.client = client
        self.transcript = transcript
        self.attempts = attempts
        self.backoff = backoff

    def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """The first response that is neither a redirect nor worth retrying; the caller closes it."""
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                response = self._follow(request)
                if not stream:
                    response.read()  # inside the try: a body cut short is a dropped connection, retried too
            except httpx.TransportError as err:
                if last:
                    raise Unavailable(f"{request.method} {request.url}: {err or type(err).__name__}") from None
                time.sleep(delay)
            else:
                if response.status_code not in _RETRY_STATUSES or last:
                    return response
                response.close()
                time.sleep(_retry_after(response, delay))
            delay *= 2
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _follow(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, following redirects; credentials stay with the origin they were meant for."""
        for _ in range(_MAX_REDIRECTS):
            response = self.client.send(request, stream=True)
            if self.transcript is not None:
                self.transcript.record(response)
            if not response.has_redirect_location:
                return response
            response.close()
            target = request.url.join(response.headers["location"])
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            if _origin(target) != _origin(request.url):
                headers.pop("authorization", None)
            method = "GET" if response.status_code == 303 else request.method
            request = self.client.build_request(method, target, headers=headers)
        raise Unavailable(f"{request.method} {request.url}: more than {_MAX_REDIRECTS} redirects")


def iter_body(response: httpx.Response) -> Iterator[bytes]:
    """The raw bytes of a streamed response's body, read from its connection up to 1 MiB at a time.

    httpx reads a connection 64 KiB at a time, and its HTTP/1.1 parser (h11) copies
    every piece several times on the way out: for a layer of tens of megabytes that
    costs more than the network does (bench/pull/README.md). A body that
    ``Content-Length`` delimits is just that many bytes on the connection (RFC 9112
    section 6.3), so once h11 has handed over what it read past the headers (its
    first piece of the body: all it holds), the rest is read from the connection
    itself, through httpcore's ``network_stream`` extension. A chunked body, or one
    small enough to come whole with the headers, goes through h11 as usual. h11 does
    not see the end of a body read this way, so httpcore closes that connection
    instead of reusing it: one new connection per layer. Were a byte ever lost or
    repeated here, the digest the caller checks would refuse the blob.
    """
    chunks = response.iter_raw()
    length = response.headers.get("content-length", "")
    if response.http_version != "HTTP/1.1" or not length.isdigit() or "transfer-encoding" in response.headers:
        yield from chunks
        return
    received, size = 0, int(length)
    for chunk in chunks:  # what h11 read past the headers; a small body whole, and its connection is kept
        received += len(chunk)
        yield chunk
        if received < size:
            break
    stream, timeout = response.extensions["network_stream"], response.request.extensions["timeout"]["read"]
    while received < size:
        try:
            chunk = stream.read(min(_READ_SIZE, size - received), timeout=timeout)
        except httpcore.TimeoutException as err:  # httpx's own kinds, as the rest of the body would raise
            raise httpx.ReadTimeout(str(err), request=response.request) from None
        except httpcore.NetworkError as err:
            raise httpx.ReadError(str(err), request=response.request) from None
        if not chunk:
            raise httpx.RemoteProtocolError(f"body ended after {received} of {size} bytes", request=response.request)
        received += len(chunk)
        yield chunk
