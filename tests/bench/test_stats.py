"""The benchmark's numbers on inputs whose answers are known by hand."""

from __future__ import annotations

import math

import pytest

from labkit.bench.stats import CommandStats, rate, ratio, summarize


def test_summarize_known_values() -> None:
    # 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample variance 32/7
    s = summarize("run", [2, 4, 4, 4, 5, 5, 7, 9], errors=1)
    assert s == CommandStats("run", 8, 1, 2, 9, 5.0, 4.5, pytest.approx(math.sqrt(32 / 7)))


def test_median_of_an_odd_count_is_the_middle_value() -> None:
    s = summarize("stop", [30.0, 1.0, 2.0])
    assert (s.median, s.avg, s.min, s.max) == (2.0, 11.0, 1.0, 30.0)


def test_one_call_has_no_spread() -> None:
    assert summarize("delete", [12.5]).stddev == 0.0


def test_no_successful_call_shows_gaps_not_zeros() -> None:
    s = summarize("pause", [], errors=3)
    assert (s.count, s.errors) == (0, 3)
    assert all(math.isnan(v) for v in (s.min, s.max, s.avg, s.median, s.stddev))


def test_rate_is_containers_per_wall_second() -> None:
    assert rate(20, 0.5) == 40.0
    assert math.isnan(rate(0, 0.0))


def test_ratio_guards_against_missing_baselines() -> None:
    assert ratio(30.0, 20.0) == 1.5
    assert math.isnan(ratio(30.0, 0.0))
    assert math.isnan(ratio(30.0, float("nan")))
