"""Basic auth and the Bearer token flow against real registries on loopback (see conftest.py)."""

from __future__ import annotations

import time

import pytest
from faultproxy import FaultProxy

import labkit
from labkit.reference import Reference
from labkit.remotes import Challenge, Registry, Transcript

from .conftest import PASSWORD, USER, TokenServer

pytestmark = [pytest.mark.tool("docker-registry", "openssl")]
CREDENTIALS = f"{USER}:{PASSWORD}"


def test_ping_shows_the_challenge(basic_registry: str, token_registry: str, token_server: TokenServer) -> None:
    with Registry(basic_registry, plain_http=True) as registry:
        assert registry.ping() == [Challenge("basic", {"realm": "labkit-test"})]
    with Registry(token_registry, plain_http=True) as registry:
        [challenge] = registry.ping()
    assert challenge.scheme == "bearer" and challenge.params["realm"] == token_server.realm


def test_basic_auth_pull(basic_registry: str, lab_root) -> None:
    transcript = Transcript()
    image = labkit.pull(f"{basic_registry}/private/small", plain_http=True, user=CREDENTIALS, transcript=transcript)
    assert image.config["config"]["Cmd"] == ["cat", "/hello.txt"]
    statuses = [(e.status, e.request_headers.get("authorization")) for e in transcript]
    assert statuses[:2] == [(401, None), (200, "Basic <redacted>")]
    assert PASSWORD not in str(transcript)


def test_basic_auth_wrong_password(basic_registry: str, lab_root) -> None:
    with pytest.raises(labkit.PermissionDenied, match=f"refused the credentials of user '{USER}'"):
        labkit.pull(f"{basic_registry}/private/small", plain_http=True, user=f"{USER}:nope")
    assert not (lab_root / "images").exists()


def test_basic_auth_without_credentials(basic_registry: str, lab_root) -> None:
    with pytest.raises(labkit.PermissionDenied, match="needs a user name and password"):
        labkit.pull(f"{basic_registry}/private/small", plain_http=True)


def test_bearer_anonymous_pull(token_registry: str, token_server: TokenServer, lab_root) -> None:
    before = len(token_server.requests)
    transcript = Transcript()
    image = labkit.pull(f"{token_registry}/public/small", plain_http=True, transcript=transcript)
    assert image.name == f"{token_registry}/public/small:latest"
    # one token for the whole pull: the manifest and both blobs reuse it
    assert token_server.requests[before:] == [{"account": "", "scope": ["repository:public/small:pull"], "status": 200}]
    first, token, retried = list(transcript)[:3]
    assert first.status == 401 and first.response_headers["www-authenticate"].startswith("Bearer realm=")
    assert token.url.startswith(token_server.realm) and token.status == 200
    assert retried.request_headers["authorization"] == "Bearer <redacted>" and retried.status == 200


def test_bearer_pull_with_credentials(token_registry: str, token_server: TokenServer, lab_root) -> None:
    image = labkit.pull(f"{token_registry}/private/small", plain_http=True, user=CREDENTIALS)
    assert image.layers and token_server.requests[-1]["account"] == USER


def test_an_expired_token_is_fetched_again(token_registry: str, token_server: TokenServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(token_server, "expires_in", 1)
    ref = Reference.parse(f"{token_registry}/public/small")
    before = len(token_server.requests)
    with Registry(token_registry, plain_http=True) as client:
        client.resolve(ref)
        client.resolve(ref)  # the token is still fresh: no new one
        assert len(token_server.requests) == before + 1
        time.sleep(1.1)
        client.resolve(ref)
    assert len(token_server.requests) == before + 2


def test_bearer_anonymous_is_refused_a_private_repository(token_registry: str, lab_root) -> None:
    with pytest.raises(labkit.PermissionDenied, match="refused anonymous access"):
        labkit.pull(f"{token_registry}/private/small", plain_http=True)


def test_bearer_wrong_password(token_registry: str, token_server: TokenServer, lab_root) -> None:
    with pytest.raises(labkit.PermissionDenied, match=f"token server {token_server.realm} refused"):
        labkit.pull(f"{token_registry}/private/small", plain_http=True, user=f"{USER}:nope")


def test_redirect_to_another_host_drops_credentials(basic_registry: str, open_registry: str, lab_root) -> None:
    """reference.md: follow a blob redirect, never sending Authorization to another host."""
    with FaultProxy(basic_registry) as front, FaultProxy(open_registry) as elsewhere:
        port = elsewhere.address.rsplit(":", 1)[1]
        front.redirect(f"http://localhost:{port}", match="/blobs/", times=2)
        labkit.pull(f"{front.address}/private/small", plain_http=True, user=CREDENTIALS)
        assert any("Authorization" in seen.headers for seen in front.seen("GET", "/blobs/"))
        redirected = elsewhere.seen("GET", "/blobs/")
        assert len(redirected) == 2 and not any("Authorization" in seen.headers for seen in redirected)
