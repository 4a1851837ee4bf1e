"""WWW-Authenticate parsing (RFC 7235 section 4.1; distribution's token authentication spec)."""

from __future__ import annotations

from labkit.remotes import Challenge, parse_challenges


def test_bearer_challenge_with_its_parameters() -> None:
    header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'
    assert parse_challenges(header) == [
        Challenge("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                             "scope": "repository:library/busybox:pull"}),
    ]  # fmt: skip


def test_several_challenges_and_case_insensitive_names() -> None:
    header = 'Basic realm="lab", BEARER Realm="http://127.0.0.1/t",error="invalid_token"'
    assert parse_challenges(header) == [
        Challenge("basic", {"realm": "lab"}),
        Challenge("bearer", {"realm": "http://127.0.0.1/t", "error": "invalid_token"}),
    ]


def test_token_values_escapes_and_commas_inside_quotes() -> None:
    assert parse_challenges('Basic realm=lab') == [Challenge("basic", {"realm": "lab"})]
    assert parse_challenges(r'Bearer realm="a\"b",scope="repository:x:pull,push"') == [
        Challenge("bearer", {"realm": 'a"b', "scope": "repository:x:pull,push"})
    ]


def test_empty_or_garbage_gives_what_it_can() -> None:
    assert parse_challenges("") == []
    assert parse_challenges('Bearer "oops"') == [Challenge("bearer", {})]
