"""The registry client: ping, resolve a reference, fetch manifests and blobs (distribution spec).

Each method is one step of a pull, one or two HTTP exchanges:

- ``ping``:     ``GET /v2/`` — does this host speak the API, and what credentials does it want?
- ``resolve``:  ``HEAD /v2/<name>/manifests/<tag>`` with an ``Accept`` of every manifest type
  → the descriptor (media type, ``Docker-Content-Digest``, size) the tag points at;
- ``fetch_manifest``: ``GET`` it by digest and check the bytes against that digest;
- ``fetch_config``: the same for the image config, a small blob;
- ``fetch_blob``: stream ``GET /v2/<name>/blobs/<digest>`` into a writer that verifies it,
  resuming with ``Range: bytes=N-`` when the connection drops mid-way.

A manifest, index or config is read whole, so it is read only up to the size its
descriptor gives, and never past containerd's 4 MiB (``MAX_MANIFEST_SIZE``): a registry
that sends more is cut off as the bytes arrive, not after they fill the memory.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable, Iterable
from typing import Protocol

import httpx

from ..descriptor import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MAX_MANIFEST_SIZE,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    load_json,
    split_digest,
)
from ..errors import DataCorrupted, InvalidArgument, LabkitError, NotFound, PermissionDenied, Unavailable
from ..reference import Reference
from ._auth import Authorizer
from ._challenge import Challenge, parse_challenges
from ._transcript import Transcript
from ._transport import Pace, Transport, header_int, iter_body, read_whole

__all__ = ["Registry", "BlobWriter", "ACCEPT"]

#: reference.md, "Registry": ask for all four, or a registry may convert or refuse.
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))
_RESUMES = 5  # interrupted transfers of one blob that make no progress before giving up


class BlobWriter(Protocol):
    """Where a blob streams to: ``content.Writer`` is one. ``offset`` is how many bytes it holds."""

    offset: int

    def write(self, data: bytes) -> None: ...


def _error(response: httpx.Response, what: str) -> LabkitError:
    """Turn a registry error response into labkit's error kind, keeping the spec's error codes."""
    try:
        errors = load_json(response.content, "error").get("errors")
        codes = ", ".join(" ".join(str(error.get("code", "?")).split())[:40] for error in errors[:5])  # type: ignore[index]
    except (LabkitError, AttributeError, TypeError, KeyError):  # not the spec's {"errors": [{"code": ...}]}
        codes = ""
    detail = f"{what}: {response.status_code} {codes or response.reason_phrase}"
    if response.status_code == 404:
        return NotFound(detail)
    if response.status_code in (401, 403):
        return PermissionDenied(detail)
    if response.status_code in (400, 405):
        return InvalidArgument(detail)
    return Unavailable(detail)


def _check_digest(data: bytes, desc: Descriptor, what: str) -> None:
    algorithm, expected = split_digest(desc.digest)
    actual = hashlib.new(algorithm, data).hexdigest()
    if actual != expected or len(data) != desc.size:
        raise DataCorrupted(
            f"{what} {desc.digest} is corrupt: its {len(data)} bytes hash to {algorithm}:{actual} "
            f"(expected {desc.size} bytes with the digest they are named by)"
        )


def _within_cap(size: int, what: str) -> None:
    if size > MAX_MANIFEST_SIZE:
        raise InvalidArgument(f"{what} is {size} bytes, more than the {MAX_MANIFEST_SIZE >> 20} MiB labkit reads "
                              "(containerd's limit for a manifest)")


class Registry:
    """A client of one registry host. Use it as a context manager, or ``close()`` it."""

    def __init__(
        self,
        host: str,
        *,
        plain_http: bool = False,
        credentials: tuple[str, str] | None = None,
        transcript: Transcript | None = None,
        trusted_realms: Iterable[str] = (),
        pace: Pace | None = None,
    ) -> None:
        """``trusted_realms``: token servers on other hosts that may receive ``credentials`` (see ``_auth``);
        ``pace``: the slowest a body may arrive (``Pace()``'s default unless given)."""
        self.host = host
        self.base = f"{'http' if plain_http else 'https'}://{host}/v2"
        # HTTPS trusts the system's store (/etc/ssl/certs: the machine's own CAs). Loading it takes a
        # tenth of a second, so a plain-HTTP client skips it: its context still verifies, trusting
        # nothing, so an HTTPS redirect fails closed instead of going unchecked.
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if plain_http else ssl.create_default_context()
        client = httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0), follow_redirects=False, verify=tls)
        self.auth = Authorizer(Transport(client, transcript=transcript, pace=pace), credentials, trusted_realms)

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.auth.transport.client.close()

    def _request(
        self, method: str, url: str, *, scope: str = "", headers: dict[str, str] | None = None, stream: bool = False,
        limit: int = MAX_MANIFEST_SIZE,
    ) -> httpx.Response:  # fmt: skip
        request = self.auth.transport.client.build_request(method, url, headers=headers)
        return self.auth.send(request, scope=scope, stream=stream, limit=limit)

    def ping(self) -> list[Challenge]:
        """``GET /v2/`` without credentials: ``[]`` if open, else the challenges of its ``401``."""
        request = self.auth.transport.client.build_request("GET", f"{self.base}/")
        response = self.auth.transport.send(request)
        if response.status_code == 401:
            return parse_challenges(response.headers.get("www-authenticate", ""))
        if response.status_code != 200:
            raise _error(response, f"{self.host} does not speak the registry API")
        return []

    def resolve(self, ref: Reference) -> Descriptor:
        """The descriptor ``ref`` points at, from ``HEAD`` (``Docker-Content-Digest``) or, failing that, ``GET``."""
        url = f"{self.base}/{ref.path}/manifests/{ref.object}"
        scope = f"repository:{ref.path}:pull"
        response = self._request("HEAD", url, scope=scope, headers={"Accept": ACCEPT})
        if response.status_code == 404:
            raise NotFound(f"{ref}: not found (no such manifest in {self.host})")
        if response.status_code != 200:
            raise _error(response, f"resolving {ref}")
        digest = ref.digest or response.headers.get("docker-content-digest")
        media_type = response.headers.get("content-type", "").split(";")[0]
        size = header_int(response, "content-length")
        if digest and media_type and size is not None:
            _within_cap(size, f"the manifest of {ref}")
            return Descriptor(media_type, digest, size)
        response = self._request("GET", url, scope=scope, headers={"Accept": ACCEPT})  # HEAD did not say enough
        if response.status_code != 200:
            raise _error(response, f"resolving {ref}")
        data = response.content
        media_type = response.headers.get("content-type", "").split(";")[0]
        media_type = media_type or load_json(data, f"the manifest of {ref}").get("mediaType", "")
        if not isinstance(media_type, str):
            raise InvalidArgument(f"the manifest of {ref} has a mediaType that is not a string")
        return Descriptor(media_type, digest or f"sha256:{hashlib.sha256(data).hexdigest()}", len(data))

    def fetch_manifest(self, repository: str, desc: Descriptor) -> bytes:
        """``GET`` a manifest or index by digest; its bytes, checked against ``desc`` and its ``mediaType``."""
        data = self._fetch_whole(f"{self.base}/{repository}/manifests/{desc.digest}", repository, desc, "manifest",
                                 {"Accept": ACCEPT})  # fmt: skip
        body_type = load_json(data, f"manifest {desc.digest}").get("mediaType")
        if body_type and body_type != desc.media_type:
            raise DataCorrupted(f"{desc.digest}: served as {desc.media_type[:80]!r} but its mediaType is {repr(body_type)[:80]}")
        return data

    def fetch_config(self, repository: str, desc: Descriptor) -> bytes:
        """``GET`` an image config (a blob, but one read whole, so capped like a manifest); its checked bytes."""
        return self._fetch_whole(f"{self.base}/{repository}/blobs/{desc.digest}", repository, desc, "config", {})

    def _fetch_whole(self, url: str, repository: str, desc: Descriptor, what: str, headers: dict[str, str]) -> bytes:
        """The body at ``url``: refused past ``desc.size`` bytes as it arrives, then checked against ``desc``."""
        _within_cap(desc.size, f"{what} {desc.digest}")
        response = self._request("GET", url, scope=f"repository:{repository}:pull", headers=headers, limit=desc.size)
        if response.status_code != 200:
            raise _error(response, f"fetching {what} {desc.digest}")
        _check_digest(response.content, desc, what)
        return response.content

    def fetch_blob(
        self, repository: str, desc: Descriptor, writer: BlobWriter, progress: Callable[[int], None] | None = None
    ) -> None:
        """Stream a blob into ``writer``; after a dropped connection, resume from ``writer.offset``.

        distribution spec, "Fetch Blob Part": ``Range: bytes=N-`` asks for the rest; a
        ``206`` sends it, a ``200`` means the server ignored the range and sends everything,
        so the first N bytes are skipped. The writer verifies size and digest.
        """
        url = f"{self.base}/{repository}/blobs/{desc.digest}"
        failures = 0
        while writer.offset < desc.size:
            start = writer.offset
            headers = {"Range": f"bytes={start}-"} if start else {}
            response = self._request("GET", url, scope=f"repository:{repository}:pull", headers=headers, stream=True)
            try:
                if response.status_code not in (200, 206):
                    read_whole(response)  # streamed: _error reads the registry's JSON error from the body
                    raise _error(response, f"fetching blob {desc.digest}")
                skip = start if response.status_code == 200 else 0
                for chunk in iter_body(response):
                    if skip:
                        chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                    writer.write(chunk)
                    if progress:
                        progress(len(chunk))
                if writer.offset < desc.size:
                    raise httpx.RemoteProtocolError("body ended early")
            except httpx.TransportError as err:
                failures = 1 if writer.offset > start else failures + 1
                if failures > _RESUMES:
                    raise Unavailable(f"fetching blob {desc.digest}: {err or type(err).__name__}") from None
            finally:
                response.close()
