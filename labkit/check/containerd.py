"""Checks for notebook 12, containerd side by side."""

from __future__ import annotations

from datetime import UTC, datetime

from ..events import Envelope
from .events import judge_filters

__all__ = ["unpack_filters"]

_AT = datetime(2017, 12, 5, 20, 44, 37, tzinfo=UTC)
_LAYER = "extract-301935615-Dwo2 sha256:bb2462eaf583c2ee680815a0f434c4e30d99c4972fbfa64d89a92e4cbf3859cc"


def _envelope(topic: str, **event: object) -> Envelope:
    return Envelope(_AT, "default", topic, dict(event))


# (envelope, should it match?, the hint when the answer gets it wrong)
_CASES = [
    (_envelope("/images/create", name="127.0.0.1:5000/lab/busybox:latest", labels={}), True,
     "/images/create must get through: the image record is part of the pull (topics starting with /images/)"),
    (_envelope("/snapshot/prepare", key=_LAYER, parent=""), True,
     "the unpacking's /snapshot/prepare must get through: its event.key starts with extract-"),
    (_envelope("/snapshot/commit", key=_LAYER, name="sha256:bb2462eaf583"), True,
     "the unpacking's /snapshot/commit must get through too (same extract-... key)"),
    (_envelope("/images/delete", name="127.0.0.1:5000/lab/busybox:latest"), True,
     "/images/delete is an image event too: select every topic that starts with /images/"),
    (_envelope("/snapshot/prepare", key="ex12", parent="sha256:bb2462eaf583"), False,
     "the container's own snapshot (key ex12) gets through: select only keys that start with extract-"),
    (_envelope("/snapshot/remove", key="ex12-extract-1"), False,
     "a snapshot keyed ex12-extract-1 gets through: ~= searches anywhere in the value; anchor it with ^"),
    (_envelope("/containers/create", id="ex12", image="lab/busybox", runtime={"name": "runc"}), False,
     "/containers/create gets through: the filter should only let in the pull and the unpacking"),
    (_envelope("/tasks/start", container_id="ex12", pid=4242), False,
     "/tasks/start gets through: the filter should only let in the pull and the unpacking"),
]


def unpack_filters(filters: str | list[str]) -> bool:
    """``filters``: what to subscribe to containerd with to see an image pulled and unpacked, and nothing else."""
    return judge_filters(filters, _CASES, "image records and extract-... snapshots get through, "
                                          "and nothing about containers or tasks")
