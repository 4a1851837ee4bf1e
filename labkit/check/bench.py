"""Checks for notebook 13, benchmarking the lifecycle."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from ..bench.config import parse
from ..bench.run import RunResult
from ..errors import InvalidArgument
from . import hint, passed

__all__ = ["freeze_suite", "pause_medians"]


def freeze_suite(text: str) -> bool:
    """``text``: a suite in YAML that times freezing and thawing with runc and crun, one thread each."""
    try:
        suite = parse(text)
    except InvalidArgument as err:
        return hint(f"labkit bench would refuse it: {err}")
    if not {"pause", "resume"} <= set(suite.commands):
        return hint("time the freezer: the commands need pause and resume (between run and stop)")
    if suite.commands[-1] != "delete":
        return hint("end every container with delete, or the bench cleans up untimed and you lose that number")
    if sorted(d.type for d in suite.drivers) != ["crun", "runc"]:
        return hint("compare the two runtimes, each once: drivers runc and crun, nothing else")
    if any(d.threads != 1 for d in suite.drivers):
        return hint("one thread per driver: with two, each pause also waits for the other thread's CPU")
    if any(d.iterations < 5 for d in suite.drivers):
        return hint("at least 5 iterations per driver: the median of two or three calls is mostly noise")
    return passed("a suite that times pause and resume with runc and crun, one thread, enough iterations")


def pause_medians(answer: Mapping[str, float], results: Sequence[RunResult]) -> bool:
    """``answer``: driver -> the median of its ``pause`` latencies (ms) in ``results``."""
    expected = {r.driver: statistics.median(r.durations["pause"]) for r in results if r.durations.get("pause")}
    if set(answer) != set(expected):
        return hint(f"one entry per driver that paused: {', '.join(sorted(expected))} (got {', '.join(sorted(answer))})")
    for driver, value in sorted(answer.items()):
        calls = results[[r.driver for r in results].index(driver)].durations["pause"]
        if math.isclose(value, statistics.fmean(calls)) and not math.isclose(value, expected[driver]):
            return hint(f"{driver}: that is the mean; the median is the middle value once sorted "
                        "(the mean of the two middle ones for an even count)")
        if not math.isclose(value, expected[driver]):
            return hint(f"{driver}: {value:.3f} is not the median of its pause calls; "
                        "keep only command == 'pause' rows of that driver, sort their ms, take the middle")
    return passed("the median pause of each runtime: the typical call, whatever the slowest one did")
