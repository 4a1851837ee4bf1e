"""Report rows, tables and ratios from hand-made results (no containers needed)."""

from __future__ import annotations

from labkit.bench.report import command_rows, rate_rows, ratio_rows, samples, table
from labkit.bench.run import RunResult

COMMANDS = ("run", "stop", "delete")


def _result(driver: str, seconds: float, completed: int = 4, threads: int = 2) -> RunResult:
    return RunResult(driver, threads, 2, COMMANDS, seconds=seconds, completed=completed,
                     durations={"run": [10.0, 20.0, 30.0, 40.0], "stop": [1.0, 3.0], "delete": []},
                     errors={"delete": 2})


def test_rows_are_dataframe_friendly() -> None:
    results = [_result("runc", 0.5), _result("labkit", 0.4)]
    assert rate_rows(results)[0] == {"driver": "runc", "threads": 2, "iterations": 2, "containers": 4,
                                     "seconds": 0.5, "per_second": 8.0}
    rows = command_rows(results)
    assert [(r["driver"], r["command"]) for r in rows][:3] == [("runc", "run"), ("runc", "stop"), ("runc", "delete")]
    assert rows[0]["median_ms"] == 25.0 and rows[2]["errors"] == 2
    assert len(samples(results)) == 12 and samples(results)[4] == {"driver": "runc", "threads": 2,
                                                                 "command": "stop", "ms": 1.0}


def test_ratios_compare_rates_at_equal_thread_counts() -> None:
    results = [_result("runc", 0.5), _result("ctr", 2.0), _result("labkit", 0.4), _result("runc", 1.0, threads=1)]
    assert ratio_rows(results) == [
        {"threads": 2, "ratio": "labkit/runc", "value": 1.25, "target": 0.8, "met": True},
        {"threads": 2, "ratio": "labkit/ctr", "value": 5.0, "target": 2.0, "met": True},
    ]


def test_table_aligns_and_shows_gaps() -> None:
    text = table(command_rows([_result("runc", 0.5)]))
    lines = text.splitlines()
    assert lines[0].split() == ["driver", "threads", "command", "count", "errors", "min_ms", "max_ms",
                                "avg_ms", "median_ms", "stddev_ms"]
    assert lines[1].split() == ["runc", "2", "run", "4", "0", "10.00", "40.00", "25.00", "25.00", "12.91"]
    assert lines[3].split()[-5:] == ["-"] * 5
    assert len({len(line) for line in lines[:2]}) == 1
