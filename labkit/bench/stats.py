"""The numbers a benchmark reports, computed from raw timings (pure functions, no I/O).

Bucketbench reports, for each driver and thread count, a *rate* (containers per
second) and, for each command, the spread of its latencies: min / max / avg /
median / stddev and how many calls failed (reference.md, "Bucketbench"). All
latencies here are in milliseconds.

Why the median next to the mean: a lifecycle timing has a long right tail (a page
fault storm, a cgroup being torn down by the kernel, the other thread holding the
GIL). One slow call pulls the mean up; the median moves only when the typical call
gets slower, so it is the number to compare between drivers.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CommandStats", "summarize", "rate", "ratio"]


@dataclass(frozen=True)
class CommandStats:
    """The spread of one command's latencies, in milliseconds."""

    command: str
    count: int
    errors: int
    min: float
    max: float
    avg: float
    median: float
    stddev: float


def summarize(command: str, durations_ms: Sequence[float], errors: int = 0) -> CommandStats:
    """Summarize the successful calls of ``command`` (``durations_ms``) and its failed ones.

    ``stddev`` is the sample standard deviation (n - 1), 0 with fewer than two calls;
    with no successful call at all every latency is ``nan``, so that a table shows a
    gap instead of a misleading zero.
    """
    if not durations_ms:
        nan = float("nan")
        return CommandStats(command, 0, errors, nan, nan, nan, nan, nan)
    return CommandStats(
        command=command,
        count=len(durations_ms),
        errors=errors,
        min=min(durations_ms),
        max=max(durations_ms),
        avg=statistics.fmean(durations_ms),
        median=statistics.median(durations_ms),
        stddev=statistics.stdev(durations_ms) if len(durations_ms) > 1 else 0.0,
    )


def rate(containers: int, seconds: float) -> float:
    """Throughput: containers taken through the whole command list per second of wall time."""
    return containers / seconds if seconds > 0 else float("nan")


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or ``nan`` when the denominator is missing or zero."""
    if denominator != denominator or denominator == 0:  # nan never equals itself
        return float("nan")
    return numerator / denominator
