"""A hostile registry: a real HTTP server on loopback that serves whatever a test crafts.

The lab's registry only ever answers well. This one answers what the test tells it, byte
for byte, so that the client meets what a malicious or broken registry can send: manifests
that are not JSON or never end, descriptors with impossible sizes, token servers that
answer nonsense, bodies that trickle in::

    with HostileRegistry() as evil:
        ref = evil.publish("evil/image", builder.image([layer], {"Cmd": ["true"]}))
        evil.serve("/v2/evil/image/manifests/latest", Answer(body=endless, headers={...}))
        labkit.pull(ref, plain_http=True)

``publish`` serves a whole image the ordinary way (by tag and by digest, HEAD and GET);
``serve`` then replaces any one answer. ``challenge`` makes every ``/v2/`` path answer
``401`` with that ``WWW-Authenticate`` unless the request carries ``authorization``.
Every request is recorded in ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from labkit import builder

__all__ = ["HostileRegistry", "Answer", "Request", "endless", "trickle", "manifest_for"]


@dataclass
class Answer:
    """One response. A callable ``body`` is a stream of chunks, sent with ``Transfer-Encoding: chunked``
    (so no length is promised); ``headers`` are sent as given, after the defaults."""

    body: bytes | Callable[[], Iterator[bytes]] = b""
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]


def endless(chunk: bytes = b" " * 65536) -> Callable[[], Iterator[bytes]]:
    """A body that never ends (until the client hangs up)."""

    def chunks() -> Iterator[bytes]:
        while True:
            yield chunk

    return chunks


def trickle(data: bytes, interval: float) -> Callable[[], Iterator[bytes]]:
    """``data`` one byte every ``interval`` seconds: alive, but slower than any real server."""

    def chunks() -> Iterator[bytes]:
        for byte in data:
            time.sleep(interval)
            yield bytes([byte])

    return chunks


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer is what these tests provoke: nothing to report."""


class HostileRegistry:
    """Serves ``answers`` (path -> Answer, for GET and HEAD) on a free loopback port."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {"/v2/": Answer(b"{}", {"Content-Type": "application/json"})}
        self.requests: list[Request] = []
        self.challenge = ""  # a WWW-Authenticate value: then /v2/ paths want ``authorization``
        self.authorization = ""
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"hostile-{self.address}", daemon=True)

    def serve(self, path: str, answer: Answer) -> None:
        with self._lock:
            self.answers[path] = answer

    def publish(self, repository: str, image: builder.BuiltImage, tag: str = "latest") -> str:
        """Serve ``image`` as a registry would; the reference to pull it by."""
        for blob in image.blobs:
            self.serve(f"/v2/{repository}/blobs/{blob.digest}", Answer(blob.data))
        self.serve_manifest(repository, tag, image.manifest.data, image.manifest.media_type)
        return f"{self.address}/{repository}:{tag}"

    def serve_manifest(self, repository: str, tag: str, data: bytes, media_type: str) -> str:
        """Serve ``data`` as the manifest of ``repository:tag`` and by its digest; its digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
        for reference in (tag, digest):
            self.serve(f"/v2/{repository}/manifests/{reference}", Answer(data, headers))
        return digest

    def seen(self, method: str, path: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method and path in r.path]

    def __enter__(self) -> HostileRegistry:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def manifest_for(image: builder.BuiltImage, **changes: object) -> bytes:
    """``image``'s manifest with top-level fields replaced (``changes``): e.g. ``layers=5``."""
    return json.dumps({**json.loads(image.manifest.data), **changes}).encode()


def _handler(registry: HostileRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            path = self.path.split("?", 1)[0]
            with registry._lock:
                registry.requests.append(Request(self.command, self.path, dict(self.headers)))
                answer = registry.answers.get(path)
            if answer is None:
                answer = Answer(b'{"errors":[{"code":"NAME_UNKNOWN"}]}', {"Content-Type": "application/json"}, 404)
            if registry.challenge and path.startswith("/v2/") and self.headers.get("Authorization") != registry.authorization:
                answer = Answer(b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": registry.challenge}, 401)
            self.send_response(answer.status)
            streamed = callable(answer.body)
            defaults = {"Transfer-Encoding": "chunked"} if streamed else {"Content-Length": str(len(answer.body))}
            for name, value in {**defaults, **answer.headers}.items():
                self.send_header(name, value)
            self.end_headers()
            if not body:
                return
            if callable(answer.body):
                for chunk in answer.body():
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.wfile.write(answer.body)

    return Handler
