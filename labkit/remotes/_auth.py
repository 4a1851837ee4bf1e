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
"""

from __future__ import annotations

import base64
import threading
import time

import httpx

from ..errors import PermissionDenied
from ._challenge import Challenge, parse_challenges
from ._transport import Transport

__all__ = ["Authorizer"]

_DEFAULT_TOKEN_LIFETIME = 60  # seconds, when the token server does not say (token spec: expires_in)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Authorizer:
    """Adds the right ``Authorization`` to requests, answering challenges as they come."""

    def __init__(self, transport: Transport, credentials: tuple[str, str] | None = None) -> None:
        self.transport = transport
        self.credentials = credentials
        self._basic_hosts: set[str] = set()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (host, scope) -> (token, expiry)
        self._lock = threading.Lock()

    def send(self, request: httpx.Request, *, scope: str = "", stream: bool = False) -> httpx.Response:
        """Send ``request`` with what authorisation ``request.url.netloc`` has asked for so far.

        ``scope`` is the token scope the request needs (``repository:NAME:pull``). On a
        ``401``, answer its challenge once and resend; a second ``401`` means the
        credentials were refused.
        """
        self._authorize(request, scope)
        response = self.transport.send(request, stream=stream)
        if response.status_code != 401:
            return response
        response.close()
        self._answer(parse_challenges(response.headers.get("www-authenticate", "")), request, scope)
        self._authorize(request, scope)
        response = self.transport.send(request, stream=stream)
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
                token, lifetime = self._fetch_token(challenge, scope)
                with self._lock:
                    self._tokens[(host, scope)] = (token, time.monotonic() + lifetime)
                return
            if challenge.scheme == "basic":
                if not self.credentials:
                    raise PermissionDenied(f"{host} needs a user name and password (--user USER:PASS)")
                self._basic_hosts.add(host)
                return
        raise PermissionDenied(f"{host} answered 401 with no challenge labkit understands: {challenges}")

    def _fetch_token(self, challenge: Challenge, scope: str) -> tuple[str, float]:
        """Steps 3 and 4: ask the token server at ``realm`` for a token for ``service`` and ``scope``."""
        params: dict[str, str] = {key: challenge.params[key] for key in ("service", "scope") if key in challenge.params}
        if scope:
            params["scope"] = scope
        headers = {"Authorization": _basic(*self.credentials)} if self.credentials else {}
        request = self.transport.client.build_request("GET", challenge.params["realm"], params=params, headers=headers)
        response = self.transport.send(request)
        if response.status_code in (401, 403):
            raise PermissionDenied(f"token server {challenge.params['realm']} refused {self._who()}")
        try:
            response.raise_for_status()
            body = response.json()
            token = body.get("token") or body["access_token"]
        except (httpx.HTTPStatusError, ValueError, KeyError) as err:
            raise PermissionDenied(f"token server {challenge.params['realm']} gave no token: {err}") from None
        return token, float(body.get("expires_in") or _DEFAULT_TOKEN_LIFETIME)
