"""Authorisation: answer a registry's ``401`` challenge, then keep the answer.

The distribution spec's token authentication, step by step:

1. the client sends its request with no credentials;
2. the registry answers ``401`` with ``WWW-Authenticate: Bearer realm=…,service=…,scope=…``;
3. the client asks the token server, ``GET realm?service=…&scope=…``, with HTTP Basic
   credentials if it has a user name, none for anonymous access;
4. the token server answers JSON ``{"token": …}`` (or ``access_token``, with ``expires_in``);
5. the client sends its request again with ``Authorization: Bearer <token>``.

A ``Basic`` challenge asks for the user name and password on every request
(RFC 7617). Tokens are kept per host and scope until they expire.

Credentials go only where they were meant for. The realm of a challenge is a URL the
registry chose, so the user name and password go to it only when it is on the
registry's own host (any port), or on a host the user named as trusted
(``trusted_realms``; Docker Hub's ``auth.docker.io`` is known). A challenge from
another origin that a redirect led to (a blob served by object storage) is never
answered: that server's realm would receive them. Anonymous token requests, which
carry nothing, may go anywhere.
"""

from __future__ import annotations

import base64
import math
import re
import threading
import time
from collections.abc import Iterable

import httpx

from ..descriptor import MAX_MANIFEST_SIZE, load_json
from ..errors import LabkitError, PermissionDenied
from ._challenge import Challenge, parse_challenges
from ._transport import Transport, origin

__all__ = ["Authorizer", "KNOWN_REALMS"]

_DEFAULT_TOKEN_LIFETIME = 60  # seconds, when the token server does not say (token spec: expires_in)
#: what a token may hold to be sent in a header: RFC 6750 section 2.1, ``b64token`` (a JWT is one)
_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_TOKEN_MAX = 16 << 10  # bytes: real tokens are one or two KiB
#: registry host -> token servers on other hosts that it is known to use
KNOWN_REALMS = {"registry-1.docker.io": frozenset({"auth.docker.io"})}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Authorizer:
    """Adds the right ``Authorization`` to requests, answering challenges as they come."""

    def __init__(
        self, transport: Transport, credentials: tuple[str, str] | None = None, trusted_realms: Iterable[str] = ()
    ) -> None:
        self.transport = transport
        self.credentials = credentials
        self.trusted_realms = frozenset(trusted_realms)
        self._basic_hosts: set[str] = set()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (host, scope) -> (token, expiry)
        self._lock = threading.Lock()

    def send(
        self, request: httpx.Request, *, scope: str = "", stream: bool = False, limit: int = MAX_MANIFEST_SIZE
    ) -> httpx.Response:
        """Send ``request`` with what authorisation ``request.url.netloc`` has asked for so far.

        ``scope`` is the token scope the request needs (``repository:NAME:pull``). On a
        ``401``, answer its challenge once and resend; a second ``401`` means the
        credentials were refused. ``stream`` and ``limit`` are ``Transport.send``'s.
        """
        self._authorize(request, scope)
        response = self.transport.send(request, stream=stream, limit=limit)
        if response.status_code != 401:
            return response
        response.close()
        if origin(response.request.url) != origin(request.url):
            raise PermissionDenied(f"{request.url.host} redirected {request.url.path} to {response.request.url.host}, "
                                   "which asks for credentials: labkit sends none to another origin")
        self._answer(parse_challenges(response.headers.get("www-authenticate", "")), request, scope)
        self._authorize(request, scope)
        response = self.transport.send(request, stream=stream, limit=limit)
        if response.status_code == 401:
            response.close()
            host = request.url.netloc.decode()
            raise PermissionDenied(f"{host} refused {self._who()} ({request.method} {request.url.path})")
        return response

    def _who(self) -> str:
        return f"the credentials of user {self.credentials[0]!r}" if self.credentials else "anonymous access"

    def _authorize(self, request: httpx.Request, scope: str) -> None:
        host = request.url.netloc.decode()
        with self._lock:
            token, expiry = self._tokens.get((host, scope), ("", 0.0))
        if token and expiry > time.monotonic():
            request.headers["Authorization"] = f"Bearer {token}"
        elif host in self._basic_hosts and self.credentials:
            request.headers["Authorization"] = _basic(*self.credentials)

    def _answer(self, challenges: list[Challenge], request: httpx.Request, scope: str) -> None:
        """Act on the first challenge labkit understands: fetch a token or switch to Basic."""
        host = request.url.netloc.decode()
        for challenge in challenges:
            if challenge.scheme == "bearer" and "realm" in challenge.params:
                token, lifetime = self._fetch_token(challenge, scope, request.url.host)
                with self._lock:
                    self._tokens[(host, scope)] = (token, time.monotonic() + lifetime)
                return
            if challenge.scheme == "basic":
                if not self.credentials:
                    raise PermissionDenied(f"{host} needs a user name and password (--user USER:PASS)")
                self._basic_hosts.add(host)
                return
        raise PermissionDenied(f"{host} answered 401 with no challenge labkit understands: {challenges}")

    def _fetch_token(self, challenge: Challenge, scope: str, registry_host: str) -> tuple[str, float]:
        """Steps 3 and 4: ask the token server at ``realm`` for a token for ``service`` and ``scope``."""
        realm = challenge.params["realm"]
        try:
            url = httpx.URL(realm)
        except httpx.InvalidURL:
            url = httpx.URL()
        if url.scheme not in ("http", "https") or not url.host:
            raise PermissionDenied(f"{registry_host} names a token server that is not an HTTP URL: {realm[:200]!r}")
        trusted = {registry_host, *KNOWN_REALMS.get(registry_host, ()), *self.trusted_realms}
        if self.credentials and url.host not in trusted:
            raise PermissionDenied(
                f"{registry_host} asks for your credentials to be sent to {url.host}, another host; labkit sends "
                f"them only to the registry's own host (if you trust it: --trust-realm {url.host})"
            )
        params: dict[str, str] = {key: challenge.params[key] for key in ("service", "scope") if key in challenge.params}
        if scope:
            params["scope"] = scope
        headers = {"Authorization": _basic(*self.credentials)} if self.credentials else {}
        request = self.transport.client.build_request("GET", url, params=params, headers=headers)
        response = self.transport.send(request, limit=_TOKEN_MAX * 4)
        if response.status_code in (401, 403):
            raise PermissionDenied(f"token server {realm} refused {self._who()}")
        try:
            if response.status_code != 200:
                raise PermissionDenied(f"answered {response.status_code}")
            return _token(load_json(response.content, "its answer"))
        except LabkitError as err:
            raise PermissionDenied(f"token server {realm} gave no token: {err}") from None


def _token(answer: dict[str, object]) -> tuple[str, float]:
    """The token and its lifetime in seconds from a token server's JSON (token spec, "Token Response Fields")."""
    token = answer.get("token") or answer.get("access_token")
    if not isinstance(token, str) or len(token) > _TOKEN_MAX or not _TOKEN.fullmatch(token):
        raise PermissionDenied("no 'token' or 'access_token' string a header can carry")
    lifetime = answer.get("expires_in")
    if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or not 0 < lifetime < math.inf:
        lifetime = _DEFAULT_TOKEN_LIFETIME
    return token, float(lifetime)
