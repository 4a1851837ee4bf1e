"""Checks for notebook 12, containerd side by side."""

from __future__ import annotations

from datetime import datetime, timezone

from ..errors import InvalidArgument
from ..events import Envelope, parse
from . import hint, passed

__all__ = ["lifecycle_filters"]

_AT = datetime(2017, 12, 5, 20, 44, 37, tzinfo=timezone.utc)
_EXIT = {"pid": 4242, "exit_status": 0, "exited_at": "2017-12-05T20:44:37Z"}
_LAYER = "extract-301935615-Dwo2 sha256:bb2462eaf583c2ee680815a0f434c4e30d99c4972fbfa64d89a92e4cbf3859cc"


def _envelope(topic: str, **event: object) -> Envelope:
    return Envelope(_AT, "default", topic, dict(event))


# (envelope, should it match?, the hint when the answer gets it wrong)
_CASES = [
    (_envelope("/snapshot/prepare", key="ex12", parent="sha256:bb24"), True,
     "the container's own snapshot must get through: /snapshot/prepare and /snapshot/remove carry it as event.key"),
    (_envelope("/containers/create", id="ex12", image="lab/busybox", runtime={"name": "runc"}), True,
     "/containers/create of ex12 must get through: container events name it in event.id"),
    (_envelope("/tasks/start", container_id="ex12", pid=4242), True,
     "/tasks/start of ex12 must get through: task events name the container in event.container_id"),
    (_envelope("/tasks/exit", container_id="ex12", id="ex12", **_EXIT), True,
     "/tasks/exit of ex12 must get through"),
    (_envelope("/snapshot/remove", key="ex12"), True, "/snapshot/remove of ex12 must get through (event.key)"),
    (_envelope("/containers/delete", id="ex12"), True, "/containers/delete of ex12 must get through (event.id)"),
    (_envelope("/snapshot/prepare", key=_LAYER), False,
     "the image's unpacking gets through too (a snapshot keyed extract-... sha256:...): match the key exactly"),
    (_envelope("/images/create", name="127.0.0.1:5000/lab/busybox:latest"), False,
     "/images/create gets through too: the filter should only let in what is about ex12"),
    (_envelope("/tasks/start", container_id="other", pid=4243), False,
     "another container's task gets through: select event.container_id==ex12, not just the topic"),
    (_envelope("/containers/create", id="ex12-b", image="lab/busybox", runtime={"name": "runc"}), False,
     "container ex12-b gets through too: ~= searches anywhere in the value; use == for an exact id"),
]


def lifecycle_filters(filters: str | list[str]) -> bool:
    """``filters``: what to subscribe with, on both sides, to receive every event about container ``ex12``."""
    texts = [filters] if isinstance(filters, str) else list(filters)
    try:
        matcher = parse(*texts)
    except InvalidArgument as err:
        return hint(f"containerd would refuse that filter: {err}")
    for envelope, wanted, why in _CASES:
        if matcher.match(envelope) != wanted:
            return hint(why)
    return passed("every event about ex12 gets through, and nothing else: its snapshot, its record, its task")
