"""Image references: ``[domain/]path[:tag][@digest]``, parsed and normalised.

The grammar is the one of distribution's ``reference`` package, which Docker, containerd
and every registry client share. Normalisation is what turns ``busybox`` into
``docker.io/library/busybox:latest``:

- the first path component is a *domain* only if it holds a ``.`` or a ``:`` or is
  ``localhost``; otherwise the domain is ``docker.io``;
- on ``docker.io`` a one-component path is an official image under ``library/``;
- a reference with neither tag nor digest means the tag ``latest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .descriptor import split_digest
from .errors import InvalidArgument

__all__ = ["Reference", "DEFAULT_DOMAIN"]

DEFAULT_DOMAIN = "docker.io"
#: Docker Hub's registry API is not served on docker.io itself (reference.md, "References").
_DOCKER_HUB_API = "registry-1.docker.io"
_LEGACY_DOCKER_HUB = "index.docker.io"

# distribution/reference/regexp.go
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # Go's \w is ASCII; Python's would take "é" and "३"
_REMAINDER = re.compile(rf"(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)(?::(?P<tag>{_TAG}))?(?:@(?P<digest>[^@]+))?")
_NAME_MAX = 255


def _split_domain(text: str) -> tuple[str, str]:
    """Separate the domain from the path the way Docker does (the first component decides)."""
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DEFAULT_DOMAIN, text


@dataclass(frozen=True)
class Reference:
    """A normalised reference; ``str()`` gives its full form, e.g. ``docker.io/library/busybox:latest``."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse and normalise ``text``; raise ``InvalidArgument`` naming what is wrong."""
        if not text or text != text.strip():
            raise InvalidArgument(f"invalid reference {text!r}: empty or surrounded by spaces")
        domain, rest = _split_domain(text)
        if not _DOMAIN.fullmatch(domain):
            raise InvalidArgument(f"invalid reference {text!r}: {domain!r} is not a valid registry host")
        match = _REMAINDER.fullmatch(rest)
        if not match and _REMAINDER.fullmatch(rest.lower()):
            raise InvalidArgument(f"invalid reference {text!r}: repository name must be lowercase")
        if not match:
            raise InvalidArgument(f"invalid reference {text!r}: expected [DOMAIN/]PATH[:TAG][@DIGEST]")
        path, tag, digest = match["path"], match["tag"], match["digest"]
        if digest:
            split_digest(digest)
        if domain == _LEGACY_DOCKER_HUB:
            domain = DEFAULT_DOMAIN
        if domain == DEFAULT_DOMAIN and "/" not in path:
            path = f"library/{path}"
        if len(f"{domain}/{path}") > _NAME_MAX:
            raise InvalidArgument(f"invalid reference {text!r}: name longer than {_NAME_MAX} characters")
        return cls(domain, path, tag if tag or digest else "latest", digest)

    @property
    def name(self) -> str:
        """``domain/path``: the repository, without tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def api_host(self) -> str:
        """The host whose ``/v2/`` API serves this domain (``docker.io`` → ``registry-1.docker.io``)."""
        return _DOCKER_HUB_API if self.domain == DEFAULT_DOMAIN else self.domain

    @property
    def object(self) -> str:
        """What to ask the registry for: the digest if pinned, else the tag (containerd's ``Spec.Object``)."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")
