"""The registry client, containerd's ``remotes``: talk to a registry over the distribution API.

A pull, as this package does it, one concept per private module:

- ``_challenge``:  parse ``WWW-Authenticate`` (what credentials the registry wants);
- ``_auth``:       answer it: the Bearer token flow, or HTTP Basic;
- ``_transport``:  retries (``429``/``5xx``, dropped connections), backoff, careful redirects;
- ``_resolver``:   ``Registry``: ping, resolve a reference, fetch manifests and blobs;
- ``_transcript``: record each HTTP exchange, credentials redacted, to read afterwards.

Example::

    from labkit.reference import Reference
    from labkit.remotes import Registry, Transcript

    ref = Reference.parse("127.0.0.1:5000/lab/busybox:latest")
    transcript = Transcript()
    with Registry(ref.api_host, plain_http=True, transcript=transcript) as registry:
        desc = registry.resolve(ref)
        manifest = registry.fetch_manifest(ref.path, desc)
    print(transcript)
"""

from __future__ import annotations

from ._challenge import Challenge, parse_challenges
from ._resolver import ACCEPT, BlobWriter, Registry
from ._transcript import Exchange, Transcript

__all__ = ["Registry", "BlobWriter", "Transcript", "Exchange", "Challenge", "parse_challenges", "ACCEPT"]
