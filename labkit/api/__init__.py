"""labkit's gRPC face: containerd's own API, spoken by labkit and to containerd.

containerd 1.0's clients do not run ``ctr``: they call its gRPC API and, for events,
subscribe once and receive envelopes in a loop. This package speaks that API with
stubs generated from containerd's ``.proto`` files (``labkit.api.protos``):

- ``protos``:  the stubs, generated at set-up from Debian's ``.proto`` files, and ``load()`` to import one;
- ``convert``: labkit's envelopes and records <-> containerd's protobuf messages
  (an event payload travels as a ``google.protobuf.Any`` typed ``containerd.events.*``);
- ``records``: labkit's container and task records <-> containerd's ``Container`` and ``Process``;
- ``client``:  a small client that subscribes to the events service of any containerd-shaped
  server (the real containerd, or labkit's) and receives envelopes in a loop;
- ``server``:  ``labkit serve``, labkit's events, containers and tasks behind the same
  services on a unix socket, so that the real ``ctr --address SOCKET`` works against labkit.

The package is named after what it is (containerd's *API*, ``api/services/...``) rather
than after the transport, and sits beside ``cli``: it uses the supervisor, and nothing
below it imports it.
"""

from __future__ import annotations

__all__: list[str] = []
