"""``WWW-Authenticate`` challenges: how a registry says which credentials it wants.

A ``401 Unauthorized`` carries one or more challenges (RFC 7235 section 4.1), each an
auth scheme and its parameters, e.g.::

    Bearer realm="https://auth.example/token",service="registry",scope="repository:lab/busybox:pull"
    Basic realm="lab"

The distribution spec (token authentication) asks the client to get a token from
``realm`` for that ``service`` and ``scope``; ``Basic`` asks for a user name and password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Challenge", "parse_challenges"]

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # RFC 7230 section 3.2.6
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_SCHEME = re.compile(rf"[\s,]*({_TOKEN})\s*")
_PARAM = re.compile(rf"({_TOKEN})\s*=\s*({_TOKEN}|{_QUOTED})\s*,?\s*")


@dataclass(frozen=True)
class Challenge:
    """One challenge: its scheme (lower case, e.g. ``bearer``) and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in a ``WWW-Authenticate`` value, in order; parameter names in lower case."""
    challenges = []
    pos = 0
    while (scheme := _SCHEME.match(header, pos)) and scheme.group(1):
        pos = scheme.end()
        params = {}
        while (param := _PARAM.match(header, pos)):
            params[param.group(1).lower()] = _unquote(param.group(2))
            pos = param.end()
        challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges
