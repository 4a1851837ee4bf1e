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
- holds every body to a ``Pace``: a server that sends less than ``min_rate`` bytes a
  second over any ``window`` seconds is given up on (a per-read timeout alone lets
  1 byte a second keep a pull alive for ever), and a body read whole (a manifest, a
  token, an error) to a size cap, so that an endless answer never fills the memory;
- reads a large body in big pieces straight from the connection (``iter_body``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpcore
import httpx

from ..descriptor import MAX_MANIFEST_SIZE
from ..errors import DataCorrupted, Unavailable
from ._transcript import Transcript

__all__ = ["Transport", "Pace", "iter_body", "read_whole", "header_int"]

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_REDIRECTS = 10
_MAX_RETRY_AFTER = 30.0  # seconds: never let a server park a pull for longer
#: bytes asked of the connection per read of a body: containerd's ``content.Copy`` copies through 1 MiB buffers
_READ_SIZE = 1 << 20


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """What credentials are bound to: scheme, host and port (RFC 6454, "Origin")."""
    return url.scheme, url.host, url.port


def header_int(response: httpx.Response, name: str) -> int | None:
    """A header holding a non-negative decimal integer (``Content-Length``, ``Retry-After``), else None.

    ASCII digits only: ``str.isdigit`` alone also takes other scripts' digits, and a header
    of 5000 digits is no length (nor an ``int`` Python will parse).
    """
    value = response.headers.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _retry_after(response: httpx.Response, default: float) -> float:
    """Seconds to wait: ``Retry-After`` in seconds if given (RFC 9110 section 10.2.3), else ``default``."""
    seconds = header_int(response, "retry-after")
    return default if seconds is None else min(float(seconds), _MAX_RETRY_AFTER)


@dataclass(frozen=True)
class Pace:
    """The slowest a body may arrive: ``min_rate`` bytes a second, judged over each ``window`` seconds.

    The default gives up on a server that sends less than 60 KiB in a minute: far below
    any real network, far above a server that trickles bytes to keep a pull alive.
    """

    min_rate: float = 1024.0
    window: float = 60.0


class _Body(httpx.SyncByteStream):
    """A response body as it streams in, held to a ``Pace`` and, if ``limit`` is set, to a size cap."""

    def __init__(self, inner: httpx.SyncByteStream, request: httpx.Request, pace: Pace, limit: int | None) -> None:
        self.inner, self.request, self.pace, self.limit = inner, request, pace, limit
        self.received = 0
        self._window_start, self._window_bytes = time.monotonic(), 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.count(len(chunk))
            yield chunk

    def count(self, size: int) -> None:
        """Account for ``size`` more bytes: past the cap, or too slow over the last window, is refused."""
        self.received += size
        if self.limit is not None and self.received > self.limit:
            raise DataCorrupted(f"{self.request.method} {self.request.url}: the answer is longer than the "
                                f"{self.limit} bytes expected; refused")
        self._window_bytes += size
        elapsed = time.monotonic() - self._window_start
        if elapsed >= self.pace.window:
            if self._window_bytes < self.pace.min_rate * elapsed:
                raise Unavailable(f"{self.request.method} {self.request.url}: {self._window_bytes} bytes in "
                                  f"{elapsed:.0f} s, slower than {self.pace.min_rate:.0f} bytes/s; given up")
            self._window_start, self._window_bytes = time.monotonic(), 0

    def close(self) -> None:
        self.inner.close()


class Transport:
    """Send requests through an ``httpx.Client`` with retries, backoff and careful redirects."""

    def __init__(
        self, client: httpx.Client, *, transcript: Transcript | None = None, attempts: int = 5, backoff: float = 0.2,
        pace: Pace | None = None,
    ) -> None:  # fmt: skip
        self.client = client
        self.transcript = transcript
        self.attempts = attempts
        self.backoff = backoff
        self.pace = pace or Pace()

    def send(self, request: httpx.Request, *, stream: bool = False, limit: int = MAX_MANIFEST_SIZE) -> httpx.Response:
        """The first response that is neither a redirect nor worth retrying; the caller closes it.

        Unless ``stream``, the body is read here, and refused past ``limit`` bytes (by default
        containerd's manifest cap: no answer but a blob is larger).
        """
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                response = self._follow(request, None if stream else limit)
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

    def _follow(self, request: httpx.Request, limit: int | None) -> httpx.Response:
        """Send ``request``, following redirects; credentials stay with the origin they were meant for."""
        for _ in range(_MAX_REDIRECTS):
            response = self.client.send(request, stream=True)
            assert isinstance(response.stream, httpx.SyncByteStream)
            response.stream = _Body(response.stream, request, self.pace, limit)
            if self.transcript is not None:
                self.transcript.record(response)
            if not response.has_redirect_location:
                return response
            response.close()
            try:
                target = request.url.join(response.headers["location"])
            except httpx.InvalidURL as err:
                raise Unavailable(f"{request.method} {request.url}: redirected to an invalid URL: {err}") from None
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            if origin(target) != origin(request.url):
                headers.pop("authorization", None)
            method = "GET" if response.status_code == 303 else request.method
            request = self.client.build_request(method, target, headers=headers)
        raise Unavailable(f"{request.method} {request.url}: more than {_MAX_REDIRECTS} redirects")


def read_whole(response: httpx.Response, limit: int = MAX_MANIFEST_SIZE) -> bytes:
    """Read a streamed response's body after all (an error's JSON), refused past ``limit`` like any answer."""
    body = response.stream
    assert isinstance(body, _Body), "every response passed through Transport._follow"
    body.limit = limit
    return response.read()


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
    length = header_int(response, "content-length")
    if response.http_version != "HTTP/1.1" or length is None or "transfer-encoding" in response.headers:
        yield from chunks
        return
    body = response.stream
    count = body.count if isinstance(body, _Body) else lambda size: None  # the transport's pace, if it sent it
    received, size = 0, length
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
        count(len(chunk))  # the same pace as the bytes h11 handed over
        yield chunk
