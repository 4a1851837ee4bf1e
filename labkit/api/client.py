"""A small gRPC client of containerd's API: subscribe to events and receive them in a loop.

This is how containerd 1.0's clients (Docker, the CRI plugin, monitoring tools) follow
what happens: one ``Events.Subscribe`` call with filters, then a stream of envelopes
for as long as they listen (containerd, ``api/services/events/v1/events.proto``).
The same client talks to the real containerd and to ``labkit serve``::

    from labkit.api.client import Client
    with Client("/var/lib/labkit/containerd/containerd.sock") as client:
        for envelope in client.subscribe('topic~="/tasks/"'):
            print(envelope.ctr_line())

Every call carries the namespace in the ``containerd-namespace`` metadata header, as
containerd's Go client does (``namespaces/grpc.go``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from ..errors import Unavailable
from ..events import Envelope
from ..paths import NAMESPACE
from .convert import envelope_from_proto, pack_event
from .protos import load

__all__ = ["Client", "Subscription"]


class Subscription:
    """One ``Subscribe`` stream, received by a background thread so that ``recv`` can time out.

    Iterate over it to receive envelopes in a loop (until :meth:`close`), or call
    :meth:`recv` for the next one.
    """

    def __init__(self, call: Any) -> None:
        self._call = call
        self._queue: queue.Queue[Envelope | None] = queue.Queue()
        threading.Thread(target=self._receive, name="labkit-api-subscription", daemon=True).start()

    def _receive(self) -> None:
        try:
            for message in self._call:
                self._queue.put(envelope_from_proto(message))
        except grpc.RpcError:
            pass  # cancelled by close(), or the server went away: either way the stream ends
        self._queue.put(None)

    def recv(self, timeout: float | None = None) -> Envelope | None:
        """The next envelope, or None when ``timeout`` seconds pass first or the stream has ended."""
        try:
            envelope = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if envelope is None:
            self._queue.put(None)  # keep reporting the end to later calls
        return envelope

    def __iter__(self) -> Iterator[Envelope]:
        while (envelope := self.recv()) is not None:
            yield envelope

    def close(self) -> None:
        """Cancel the stream; a loop over the subscription then ends."""
        self._call.cancel()


class Client:
    """A connection to a containerd-shaped gRPC server on a unix socket."""

    def __init__(self, address: str | Path, namespace: str = NAMESPACE) -> None:
        self.address = Path(address)
        self._channel = grpc.insecure_channel(f"unix://{self.address}")
        self._metadata = (("containerd-namespace", namespace),)
        self._events = load("api/services/events/v1/events_pb2_grpc").EventsStub(self._channel)

    def wait_ready(self, timeout: float = 5.0) -> Client:
        """Wait until the server answers; raise :class:`~labkit.errors.Unavailable` otherwise."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise Unavailable(f"no gRPC server answers on {self.address}") from None
        return self

    def subscribe(self, *filters: str) -> Subscription:
        """``Events.Subscribe``: envelopes matching any of ``filters`` (containerd's syntax), all if none.

        Like containerd, a subscription sees every namespace unless a filter says
        ``namespace==NAME``.
        """
        request = load("api/services/events/v1/events_pb2").SubscribeRequest(filters=list(filters))
        return Subscription(self._events.Subscribe(request, metadata=self._metadata))

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        """``Events.Publish``: the server stamps the time and the namespace and sends it to subscribers."""
        request = load("api/services/events/v1/events_pb2").PublishRequest(topic=topic, event=pack_event(topic, event))
        self._events.Publish(request, metadata=self._metadata)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
