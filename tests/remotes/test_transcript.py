"""The transcript shows the headers that matter and never a credential."""

from __future__ import annotations

import httpx

from labkit.remotes import Transcript


def _exchange(request_headers: dict[str, str], response_headers: dict[str, str], status: int = 200) -> Transcript:
    request = httpx.Request("GET", "http://127.0.0.1:5000/v2/", headers=request_headers)
    transcript = Transcript()
    transcript.record(httpx.Response(status, headers=response_headers, request=request))
    return transcript


def test_credentials_are_redacted_to_their_scheme() -> None:
    text = str(_exchange({"Authorization": "Basic YWxpY2U6d29uZGVybGFuZA=="}, {}))
    assert "Basic <redacted>" in text and "YWxpY2U" not in text
    text = str(_exchange({"Authorization": "Bearer eyJhbGciOi.secret.sig"}, {}))
    assert "Bearer <redacted>" in text and "secret" not in text


def test_only_telling_headers_are_kept() -> None:
    transcript = _exchange(
        {"Accept": "*/*", "User-Agent": "x", "Range": "bytes=10-"},
        {"WWW-Authenticate": 'Basic realm="lab"', "Date": "today", "Docker-Content-Digest": "sha256:abc"},
        status=401,
    )
    [exchange] = list(transcript)
    assert (exchange.method, exchange.status) == ("GET", 401)
    assert exchange.request_headers == {"range": "bytes=10-"}
    assert exchange.response_headers == {"www-authenticate": 'Basic realm="lab"', "docker-content-digest": "sha256:abc"}
    assert str(transcript).splitlines()[0] == "GET http://127.0.0.1:5000/v2/ → 401"
