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

from .envelope import (
    CONTAINER_CREATE,
    CONTAINER_DELETE,
    CONTAINER_UPDATE,
    CONTENT_CREATE,
    CONTENT_DELETE,
    IMAGE_CREATE,
    IMAGE_DELETE,
    IMAGE_UPDATE,
    SNAPSHOT_COMMIT,
    SNAPSHOT_PREPARE,
    SNAPSHOT_REMOVE,
    TASK_CREATE,
    TASK_DELETE,
    TASK_EXEC_ADDED,
    TASK_EXEC_STARTED,
    TASK_EXIT,
    TASK_OOM,
    TASK_PAUSED,
    TASK_RESUMED,
    TASK_START,
    TOPICS,
    Envelope,
    rfc3339,
)
from .exchange import Exchange, Subscription
from .filters import Filter, parse

__all__ = [
    "Envelope",
    "Exchange",
    "Subscription",
    "Filter",
    "parse",
    "rfc3339",
    "TOPICS",
    "TASK_CREATE",
    "TASK_START",
    "TASK_EXIT",
    "TASK_DELETE",
    "TASK_PAUSED",
    "TASK_RESUMED",
    "TASK_EXEC_ADDED",
    "TASK_EXEC_STARTED",
    "TASK_OOM",
    "CONTAINER_CREATE",
    "CONTAINER_UPDATE",
    "CONTAINER_DELETE",
    "IMAGE_CREATE",
    "IMAGE_UPDATE",
    "IMAGE_DELETE",
    "CONTENT_CREATE",
    "CONTENT_DELETE",
    "SNAPSHOT_PREPARE",
    "SNAPSHOT_COMMIT",
    "SNAPSHOT_REMOVE",
]
