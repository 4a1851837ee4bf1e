"""A fault proxy: a real HTTP server on loopback that forwards to an upstream and misbehaves on command.

Tests use it to put the network's ordinary failures between a client and a real
server (the lab registry, containerd's endpoints, ...) without mocking either::

    with FaultProxy("127.0.0.1:5000") as proxy:
        proxy.status(429, match="/manifests/", headers={"Retry-After": "1"})
        proxy.cut(match="/blobs/", after=4096)        # drop the connection after 4 KiB of body
        proxy.stall(5.0, match="/blobs/", after=4096) # 4 KiB of body, then silence for 5 s, then drop
        proxy.truncate(match="/blobs/", after=4096)   # a whole response, but of 4 KiB only
        proxy.drop(match="/manifests/")               # close the connection without an answer
        proxy.hang(5.0, match="/manifests/")          # take the request, say nothing for 5 s, then close
        proxy.tamper(match="/blobs/")                 # flip the first byte of the body
        proxy.delay(0.5, match="/v2/$")
        proxy.redirect("http://localhost:5000", match="/blobs/")  # 307 to another origin
        proxy.ignore_range(match="/blobs/")           # forward without Range: a full 200, not a 206
        ... point the client at proxy.address ...
        assert proxy.seen("GET", "/blobs/")[1].headers["Range"] == "bytes=4096-"

Each fault fires on the next ``times`` requests whose method and path match, then is
spent; everything else is forwarded untouched (bodies streamed, headers kept, so
``Location`` headers keep pointing at the proxy). Every request is recorded.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FaultProxy", "Fault", "Seen"]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_CHUNK = 64 * 1024


@dataclass
class Fault:
    """One misbehaviour: ``kind`` is ``status``, ``cut``, ``stall``, ``truncate``, ``drop``, ``hang``, ``tamper``,
    ``delay``, ``redirect`` or ``ignore-range``."""

    kind: str
    match: str = ""  # a regular expression searched in the request path
    method: str | None = None  # None: any method
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    after: int = 0  # cut, stall, truncate: body bytes sent before the connection drops or the body ends
    seconds: float = 0.0  # delay: how long to wait before forwarding; stall, hang: how long to send nothing
    location: str = ""  # redirect: the base URL the request's path is appended to

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and (self.method in (None, method)) and re.search(self.match, path) is not None


@dataclass(frozen=True)
class Seen:
    """A request the proxy received, and the status the client got."""

    method: str
    path: str
    headers: dict[str, str]
    status: int
    arrived: float  # time.monotonic() when the request arrived, before any delay


class FaultProxy:
    """Forward HTTP to ``upstream`` (``host:port``); listen on ``address`` (a free loopback port)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[Seen] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"faultproxy-{self.address}", daemon=True)

    # -- commands ---------------------------------------------------------------------------------
    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def status(self, code: int, *, match: str = "", method: str | None = None, times: int = 1,
               headers: dict[str, str] | None = None) -> Fault:
        """Answer ``code`` (with ``headers`` and a distribution-style JSON error) instead of forwarding."""
        return self.add(Fault("status", match, method, times, status=code, headers=headers or {}))

    def cut(self, *, match: str = "", method: str | None = "GET", times: int = 1, after: int = 0) -> Fault:
        """Forward, but drop the connection after ``after`` bytes of the response body."""
        return self.add(Fault("cut", match, method, times, after=after))

    def stall(self, seconds: float, *, match: str = "", method: str | None = "GET", times: int = 1,
              after: int = 0) -> Fault:
        """Forward ``after`` bytes of the response body, then send nothing for ``seconds``, then drop the connection."""
        return self.add(Fault("stall", match, method, times, after=after, seconds=seconds))

    def truncate(self, *, match: str = "", method: str | None = "GET", times: int = 1, after: int = 0) -> Fault:
        """Forward, but end the body after ``after`` bytes, with a ``Content-Length`` that says so: no error in HTTP."""
        return self.add(Fault("truncate", match, method, times, after=after))

    def drop(self, *, match: str = "", method: str | None = None, times: int = 1) -> Fault:
        """Close the connection without sending any answer (a server that crashed or a reset)."""
        return self.add(Fault("drop", match, method, times))

    def hang(self, seconds: float, *, match: str = "", method: str | None = None, times: int = 1) -> Fault:
        """Take the request (recorded at once, status 0) and answer nothing for ``seconds``, then close."""
        return self.add(Fault("hang", match, method, times, seconds=seconds))

    def tamper(self, *, match: str = "", method: str | None = "GET", times: int = 1) -> Fault:
        """Forward, but flip the bits of the first byte of the response body (same length, wrong digest)."""
        return self.add(Fault("tamper", match, method, times))

    def delay(self, seconds: float, *, match: str = "", method: str | None = None, times: int = 1) -> Fault:
        """Wait ``seconds`` before forwarding."""
        return self.add(Fault("delay", match, method, times, seconds=seconds))

    def redirect(self, to: str, *, match: str = "", method: str | None = None, times: int = 1) -> Fault:
        """Answer ``307`` with ``Location: <to><path>``, e.g. to another origin serving the same content."""
        return self.add(Fault("redirect", match, method, times, status=307, location=to))

    def ignore_range(self, *, match: str = "", method: str | None = "GET", times: int = 1) -> Fault:
        """Forward without the ``Range`` header, as a server that does not support ranges would answer."""
        return self.add(Fault("ignore-range", match, method, times))

    def seen(self, method: str, match: str = "") -> list[Seen]:
        """The recorded requests with this method whose path matches ``match``."""
        with self._lock:
            return [s for s in self.requests if s.method == method and re.search(match, s.path)]

    # -- life -------------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet: tests read proxy.requests
            pass

        def _forward(self) -> None:
            self.arrived = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            fault = proxy._take(self.command, self.path)
            status = fault.status if fault and fault.kind in ("status", "redirect") else 0
            if fault and fault.kind == "delay":
                time.sleep(fault.seconds)
            if fault and fault.kind in ("drop", "hang"):
                self._seen(0)
                time.sleep(fault.seconds)
                self.close_connection = True
            elif fault and fault.kind == "redirect":
                self._answer(status, {"Location": fault.location + self.path})
            elif status:
                self._answer(status, fault.headers)
            else:
                self._relay(body, fault)

        def _seen(self, status: int) -> None:
            """Record the request before the client gets its answer, so a test never races the proxy."""
            proxy._record(Seen(self.command, self.path, dict(self.headers), status, self.arrived))

        def _answer(self, status: int, headers: dict[str, str]) -> None:
            code = {429: "TOOMANYREQUESTS"}.get(status, "UNAVAILABLE")
            data = json.dumps({"errors": [{"code": code, "message": "fault proxy says no", "detail": None}]}).encode()
            self._seen(status)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _relay(self, body: bytes | None, fault: Fault | None) -> None:
            upstream = http.client.HTTPConnection(proxy.upstream, timeout=60)
            try:
                dropped = _HOP_BY_HOP | ({"range"} if fault and fault.kind == "ignore-range" else set())
                headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                chunked = response.getheader("Content-Length") is None and self.command != "HEAD"
                data = response.read() if chunked else b""
                length = str(len(data)) if chunked else response.getheader("Content-Length")
                if fault and fault.kind == "truncate" and length is not None:
                    length = str(min(int(length), fault.after))
                self._seen(response.status)
                self.send_response(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                if length is not None:
                    self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self._stream(response, data if chunked else None, fault)
            finally:
                upstream.close()

        def _stream(self, response: http.client.HTTPResponse, data: bytes | None, fault: Fault | None) -> None:
            sent = 0
            kind = fault.kind if fault else ""
            chunks = iter([data]) if data is not None else iter(lambda: response.read(_CHUNK), b"")
            for chunk in chunks:
                if kind == "tamper" and sent == 0 and chunk:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                if kind in ("cut", "stall", "truncate") and sent + len(chunk) >= fault.after:
                    self.wfile.write(chunk[: fault.after - sent])
                    self.wfile.flush()
                    if kind == "stall":
                        time.sleep(fault.seconds)
                    if kind in ("cut", "stall"):
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                    return
                self.wfile.write(chunk)
                sent += len(chunk)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    return Handler
