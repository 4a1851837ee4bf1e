"""Extra registries for the auth tests: Basic (htpasswd) and Bearer (a token server of our own).

Each is Debian's real ``docker-registry`` on a free loopback port. They share one storage
directory, filled once by an open registry with images pushed by ``labkit.builder``:
``public/small:latest`` and ``private/small:latest`` (the same small image). The token
server grants anonymous pulls of ``public/*`` and everything to ``alice``.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import bcrypt
import pytest

from labkit import builder

USER, PASSWORD = "alice", "wonderland"
SERVICE, ISSUER = "labkit-test-registry", "labkit-test-token-server"
REPOSITORIES = ("public/small", "private/small")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    address: str
    process: subprocess.Popen


def serve_registry(workdir: Path, storage: Path, auth: str = "") -> Served:
    """Start ``docker-registry`` on a free port with ``auth`` (a YAML ``auth:`` block) over ``storage``."""
    address = f"127.0.0.1:{free_port()}"
    config = workdir / f"registry-{address.rsplit(':', 1)[1]}.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\nhttp:\n  addr: {address}\n  secret: labkit-test\n{auth}"
    )
    process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", int(address.rsplit(":", 1)[1])), timeout=0.2).close()
            return Served(address, process)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"docker-registry did not start on {address}")


def stop(served: Served) -> None:
    served.process.terminate()
    served.process.wait(timeout=10)


def small_image() -> builder.BuiltImage:
    layer = builder.layer([builder.Entry("hello.txt", data=b"hello from an authenticated registry\n")])
    return builder.image([layer], {"Cmd": ["cat", "/hello.txt"]})


@pytest.fixture(scope="session")
def auth_storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Registry storage holding ``public/small`` and ``private/small``, pushed through an open registry."""
    storage = tmp_path_factory.mktemp("auth-storage")
    served = serve_registry(storage.parent, storage)
    try:
        for repository in REPOSITORIES:
            builder.push(served.address, repository, "latest", small_image())
    finally:
        stop(served)
    return storage


@pytest.fixture(scope="session")
def open_registry(auth_storage: Path) -> Iterator[str]:
    """The same storage served without authentication (for redirects to another origin)."""
    served = serve_registry(auth_storage.parent, auth_storage)
    yield served.address
    stop(served)


@pytest.fixture(scope="session")
def basic_registry(auth_storage: Path) -> Iterator[str]:
    """A registry that wants HTTP Basic credentials (htpasswd: ``alice`` / ``wonderland``)."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt()).decode()  # docker-registry's htpasswd reads bcrypt
    htpasswd = auth_storage.parent / "htpasswd"
    htpasswd.write_text(f"{USER}:{hashed}\n")
    served = serve_registry(auth_storage.parent, auth_storage, f"auth:\n  htpasswd:\n    realm: labkit-test\n    path: {htpasswd}\n")
    yield served.address
    stop(served)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A token server (distribution's token authentication spec) signing RS256 JWTs with ``openssl``."""

    def __init__(self, workdir: Path) -> None:
        self.key, self.cert = workdir / "token.key", workdir / "token.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=labkit-test-token",
             "-keyout", self.key, "-out", self.cert],
            check=True, capture_output=True,
        )  # fmt: skip
        pem = "".join(line for line in self.cert.read_text().splitlines() if "-----" not in line)
        self._x5c = [pem]  # base64 DER, as the JOSE x5c header wants (RFC 7515 section 4.1.6)
        self.requests: list[dict] = []  # {"account", "scope", "status"} per token request
        self.expires_in = 300  # seconds: the lifetime the server announces for its tokens
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.realm = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, account: str, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            if account == USER or name.startswith("public/"):
                access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a == "pull"]})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": account, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": secrets.token_hex(8), "access": access}  # fmt: skip
        header = {"typ": "JWT", "alg": "RS256", "x5c": self._x5c}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing_input.encode(),
                                   capture_output=True, check=True).stdout  # fmt: skip
        return f"{signing_input}.{_b64url(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                account, status = "", 200
                if auth := self.headers.get("Authorization"):
                    account, _, password = base64.b64decode(auth.split(" ", 1)[1]).decode().partition(":")
                    status = 200 if (account, password) == (USER, PASSWORD) else 401
                server.requests.append({"account": account, "scope": query.get("scope", []), "status": status})
                body = json.dumps({"token": server.token(account, query.get("scope", [])), "expires_in": server.expires_in}
                                  if status == 200 else {"details": "bad credentials"}).encode()  # fmt: skip
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture(scope="session")
def token_server(auth_storage: Path) -> Iterator[TokenServer]:
    server = TokenServer(auth_storage.parent)
    yield server
    server.close()


@pytest.fixture(scope="session")
def token_registry(auth_storage: Path, token_server: TokenServer) -> Iterator[str]:
    """A registry configured for token auth, trusting ``token_server``'s certificate."""
    auth = (f"auth:\n  token:\n    realm: {token_server.realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n"
            f"    rootcertbundle: {token_server.cert}\n")  # fmt: skip
    served = serve_registry(auth_storage.parent, auth_storage, auth)
    yield served.address
    stop(served)
