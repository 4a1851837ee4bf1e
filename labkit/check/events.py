"""Checks for notebook 08, the supervisor and its events."""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import InvalidArgument
from ..events import TASK_DELETE, TASK_EXIT, TASK_START, Envelope, parse
from . import hint, passed

__all__ = ["init_exit_filter", "judge_filters"]

_AT = datetime(2017, 12, 5, 20, 44, 37, tzinfo=UTC)
_EXIT = {"pid": 4242, "exit_status": 0, "exited_at": "2017-12-05T20:44:37Z"}

# (envelope, should it match?, the hint when the answer gets it wrong)
_CASES = [
    (Envelope(_AT, "default", TASK_EXIT, {"container_id": "ex08", "id": "ex08", **_EXIT}), True,
     "the init process of ex08 exiting must match: /tasks/exit with container_id ex08 and id ex08"),
    (Envelope(_AT, "default", TASK_EXIT, {"container_id": "ex08", "id": "probe", **_EXIT}), False,
     "an exec'd process of ex08 exiting also matches: in /tasks/exit, `id` is the process, `container_id` the container"),
    (Envelope(_AT, "default", TASK_START, {"container_id": "ex08", "pid": 4242}), False,
     "/tasks/start of ex08 matches too: select the topic as well"),
    (Envelope(_AT, "default", TASK_DELETE, {"container_id": "ex08", "id": "ex08", **_EXIT}), False,
     '/tasks/delete of ex08 matches too: select exactly topic=="/tasks/exit"'),
    (Envelope(_AT, "default", TASK_EXIT, {"container_id": "ex08-b", "id": "ex08-b", **_EXIT}), False,
     "the exit of container ex08-b matches too: ~= searches anywhere in the value; use == for an exact id"),
]


def judge_filters(filters: str | list[str], cases: list[tuple[Envelope, bool, str]], success: str) -> bool:
    """Try the learner's ``filters`` on envelopes whose fate is known; the first one judged wrong gives its hint."""
    texts = [filters] if isinstance(filters, str) else list(filters)
    try:
        matcher = parse(*texts)
    except InvalidArgument as err:
        return hint(f"containerd would refuse that filter: {err}")
    for envelope, wanted, why in cases:
        if matcher.match(envelope) != wanted:
            return hint(why)
    return passed(success)


def init_exit_filter(filters: str | list[str]) -> bool:
    """``filters``: what to subscribe with to receive only the exit of ex08's init process."""
    return judge_filters(filters, _CASES, "only /tasks/exit with container_id == id == ex08 gets through: "
                                          "the init process's exit")
