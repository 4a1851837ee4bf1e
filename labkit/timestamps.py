"""Time stamps, written one way everywhere: RFC 3339 in records and events, Go's form where ``ctr`` prints.

containerd is written in Go and marshals every ``time.Time`` as RFC 3339 with the
fraction's trailing zeros trimmed (``2017-12-05T20:44:37.131045Z``); ``ctr`` prints
times with ``time.Time.String()`` (``2017-12-05 20:44:37.131045 +0000 UTC``). labkit
writes its records (containers, images, snapshots, exits) and its events' time stamps
with :func:`rfc3339`, and prints what ``ctr`` prints with :func:`go_time`.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["go_time", "now", "rfc3339"]


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _fraction(moment: datetime) -> str:
    """Go's fraction of a second: up to six digits, trailing zeros (and a bare dot) dropped."""
    return f".{moment.microsecond:06d}".rstrip("0").rstrip(".")


def rfc3339(moment: datetime) -> str:
    """A time as Go's RFC 3339 with fraction, in UTC (``2017-12-05T20:44:37.131045Z``)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(utc) + "Z"


def go_time(moment: datetime) -> str:
    """A time as Go's ``time.Time.String()`` prints it in UTC: ``2017-12-05 20:44:37.131045 +0000 UTC``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S") + _fraction(utc) + " +0000 UTC"
