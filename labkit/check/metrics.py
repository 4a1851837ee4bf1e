"""Checks for notebook 10, metrics: read a task's memory use out of the Prometheus text."""

from __future__ import annotations

from collections.abc import Callable

from . import hint, passed

__all__ = ["usage_percent"]


def _exposition(*tasks: tuple[str, float, float, float]) -> str:
    """Prometheus text for tasks given as (container id, usage, peak, limit) in MiB."""
    lines = []
    for name, index, help_text in (("usage_usage", 1, "The memory usage"), ("usage_max", 2, "The memory maximum usage"),
                                   ("usage_limit", 3, "The memory limit")):
        lines += [f"# HELP container_memory_{name}_bytes {help_text}", f"# TYPE container_memory_{name}_bytes gauge"]
        for task in tasks:
            value = task[index] * (1 << 20)
            lines.append(f'container_memory_{name}_bytes{{container_id="{task[0]}",namespace="default"}} {value}')
    return "\n".join(lines) + "\n"


_TWO = _exposition(("db", 10, 12, 128), ("web", 32, 60, 64))
# (text, container id, the right answer, the hint when the answer differs)
_CASES = [
    (_TWO, "web", 50.0, "web uses 32 MiB of its 64 MiB: read container_memory_usage_usage_bytes and "
                        "container_memory_usage_limit_bytes of the sample whose container_id label is web"),
    (_TWO, "db", 7.8125, "db uses 10 MiB of 128 MiB: pick each task's samples by their container_id label"),
    (_exposition(("free", 5, 5, float("inf"))), "free", None,
     "a task without a limit exports a limit of +Inf: return None, a share of infinity means nothing"),
    (_TWO, "nope", None, "a container that is not in the text has no usage: return None"),
]


def usage_percent(answer: Callable[[str, str], float | None]) -> bool:
    """``answer(text, container_id)``: the task's memory usage as a percentage of its limit, or None."""
    for text, container_id, wanted, why in _CASES:
        try:
            got = answer(text, container_id)
        except Exception as err:  # the learner's code: any failure becomes a hint
            return hint(f"usage_percent(text, {container_id!r}) raised {type(err).__name__}: {err}")
        if (got is None) != (wanted is None) or (got is not None and wanted is not None and abs(got - wanted) > 1e-6):
            if got is not None and container_id == "web" and abs(got - 93.75) < 1e-6:
                return hint("93.75 is the peak (container_memory_usage_max_bytes); the usage now is "
                            "container_memory_usage_usage_bytes")
            return hint(f"for {container_id!r} you returned {got!r}; {why}")
    return passed("usage / limit per container_id, and None without a limit: what a Prometheus alert rule computes")
