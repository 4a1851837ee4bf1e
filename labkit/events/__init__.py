"""Events: envelopes, containerd's topics, filters, the exchange and its journal.

Every milestone of the supervisor (a container created, a task started, a process
exited, ...) is published as an ``Envelope`` on a topic named as containerd names it.
Subscribers choose what they want with containerd's filter syntax and receive it in
a ``recv()`` loop, from this process or any other (design.md, "Events").

- ``envelope``: ``Envelope``, the topics and their payload fields, ``ctr events`` lines;
- ``filters``:  the filter language (``topic=="/tasks/exit",event.container_id==demo``);
- ``journal``:  ``<root>/events.jsonl``, appended under a lock and followed with inotify;
- ``exchange``: ``Exchange.publish / subscribe / replay`` and ``Subscription``.
"""

from __future__ import annotations

from . import envelope, exchange, filters
from .envelope import *  # noqa: F403 — each module's __all__ is this package's surface
from .exchange import *  # noqa: F403
from .filters import *  # noqa: F403

__all__ = [*envelope.__all__, *filters.__all__, *exchange.__all__]
