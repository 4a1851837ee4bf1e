"""A transcript of a registry conversation: one line per HTTP exchange, credentials redacted.

A pull is a dozen small HTTP exchanges; reading them one by one is the quickest way to
learn the distribution API. A ``Transcript`` passed to a pull records, for each response,
the method, URL and status and only the headers that carry meaning for the protocol.
``Authorization`` values never appear: only their scheme does (``Bearer <redacted>``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

__all__ = ["Transcript", "Exchange"]

#: request headers worth showing (reference.md, "Registry")
_REQUEST_HEADERS = ("accept", "authorization", "range")
#: response headers worth showing
_RESPONSE_HEADERS = (
    "www-authenticate",
    "location",
    "content-type",
    "docker-content-digest",
    "content-length",
    "content-range",
    "retry-after",
)


def _redact(name: str, value: str) -> str:
    if name == "authorization":
        scheme, _, _ = value.partition(" ")
        return f"{scheme} <redacted>"
    return value


@dataclass(frozen=True)
class Exchange:
    """One request and the status and telling headers of its response."""

    method: str
    url: str
    status: int
    request_headers: dict[str, str]
    response_headers: dict[str, str]

    def __str__(self) -> str:
        lines = [f"{self.method} {self.url} → {self.status}"]
        lines += [f"  > {name}: {value}" for name, value in self.request_headers.items()]
        lines += [f"  < {name}: {value}" for name, value in self.response_headers.items()]
        return "\n".join(lines)


class Transcript:
    """Every exchange of one or more pulls, in order; safe to fill from several threads."""

    def __init__(self) -> None:
        self._exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    def record(self, response: httpx.Response) -> None:
        """Add the exchange that produced ``response`` (called by the transport for every response)."""
        request = response.request
        exchange = Exchange(
            method=request.method,
            url=str(request.url),
            status=response.status_code,
            request_headers={
                n: _redact(n, request.headers[n])
                for n in _REQUEST_HEADERS
                if request.headers.get(n, "*/*") != "*/*"  # httpx's default Accept says nothing
            },
            response_headers={n: response.headers[n] for n in _RESPONSE_HEADERS if n in response.headers},
        )
        with self._lock:
            self._exchanges.append(exchange)

    def __iter__(self) -> Iterator[Exchange]:
        with self._lock:
            return iter(list(self._exchanges))

    def __len__(self) -> int:
        return len(self._exchanges)

    def __str__(self) -> str:
        return "\n".join(str(exchange) for exchange in self)
