"""The transport: one request sent until it gets a real answer.

Registries and the networks before them fail in ordinary ways, and a client that
gives up at the first one is useless on a busy day. This layer:

- retries ``429 Too Many Requests`` after the ``Retry-After`` the server asked for
  (distribution spec, error code ``TOOMANYREQUESTS``), and ``5xx`` and dropped
  connections with exponential backoff;
- follows redirects itself (blobs are often served from another host, e.g. object
  storage), and never sends ``Authorization`` to a host other than the one it was
  meant for (reference.md, "Registry");
- hands every response to the transcript, if there is one.
"""

from __future__ import annotations

import time

import httpx

from ..errors import Unavailable
from ._transcript import Transcript

__all__ = ["Transport"]

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_REDIRECTS = 10
_MAX_RETRY_AFTER = 30.0  # seconds: never let a server park a pull for longer


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
