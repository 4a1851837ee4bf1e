"""What a benchmark run shows: terminal tables, DataFrame-friendly rows, and plots.

Every function takes the ``RunResult`` list ``run_suite`` returns. The rows are plain
lists of dicts, so ``pandas.DataFrame(rows)`` works when pandas is around and nothing
here needs it. The plot shows each call as a point over a box (median and quartiles),
because a mean alone hides the tail that tells one driver from another.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .run import RunResult
from .stats import ratio

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["rate_rows", "command_rows", "samples", "ratio_rows", "table", "render", "plot", "TARGETS"]

#: the issue's acceptance: labkit in-process against each baseline, at least this many times as fast
TARGETS = {"runc": 0.8, "ctr": 2.0}


def rate_rows(results: Iterable[RunResult]) -> list[dict[str, Any]]:
    """One row per driver and thread count: containers per second over the whole run."""
    return [{"driver": r.driver, "threads": r.threads, "iterations": r.iterations,
             "containers": r.completed, "seconds": r.seconds, "per_second": r.rate} for r in results]


def command_rows(results: Iterable[RunResult]) -> list[dict[str, Any]]:
    """One row per driver, thread count and command: latency spread in milliseconds and errors."""
    return [{"driver": r.driver, "threads": r.threads, "command": s.command, "count": s.count,
             "errors": s.errors, "min_ms": s.min, "max_ms": s.max, "avg_ms": s.avg,
             "median_ms": s.median, "stddev_ms": s.stddev} for r in results for s in r.stats()]


def samples(results: Iterable[RunResult]) -> list[dict[str, Any]]:
    """One row per timed call (long form, for plotting distributions)."""
    return [{"driver": r.driver, "threads": r.threads, "command": command, "ms": ms}
            for r in results for command in r.commands for ms in r.durations.get(command, [])]


def ratio_rows(results: Sequence[RunResult], subject: str = "labkit",
               targets: dict[str, float] = TARGETS) -> list[dict[str, Any]]:
    """``subject``'s rate over each baseline's, at every thread count both were run with."""
    rates = {(r.driver, r.threads): r.rate for r in results}
    rows = []
    for baseline, target in targets.items():
        for driver, threads in sorted(rates):
            if driver == baseline and (subject, threads) in rates:
                value = ratio(rates[subject, threads], rates[baseline, threads])
                rows.append({"threads": threads, "ratio": f"{subject}/{baseline}", "value": value,
                             "target": target, "met": value >= target})
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as an aligned text table (numbers right-aligned, two decimals), header first."""
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    cells = [columns] + [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    numeric = [isinstance(rows[0][c], (int, float)) and not isinstance(rows[0][c], bool) for c in columns]
    return "\n".join("  ".join(cell.rjust(w) if num else cell.ljust(w)
                               for cell, w, num in zip(line, widths, numeric, strict=True)).rstrip()
                     for line in cells)


def render(results: Sequence[RunResult]) -> str:
    """The terminal report: rates, per-command latencies, and labkit's ratios (printed, never asserted)."""
    commands = "+".join(results[0].commands) if results else ""
    ratios = ratio_rows(results)
    return "\n\n".join([
        "Containers per second\n" + table(rate_rows(results)),
        "Latency per command (ms)\n" + table(command_rows(results)),
        f"labkit's rate against the baselines on {commands}\n"
        + (table(ratios) if ratios else "(needs labkit and runc or ctr at the same thread count)"),
    ])


def plot(results: Sequence[RunResult]) -> Figure:
    """One panel per command (each call a dot over a box per driver), and the rates as bars."""
    import matplotlib.pyplot as plt

    commands = list(dict.fromkeys(c for r in results for c in r.commands))
    labels = [f"{r.driver}\n×{r.threads}" for r in results]
    fig, axes = plt.subplots(1, len(commands) + 1, figsize=(3.2 * (len(commands) + 1), 3.6))
    for ax, command in zip(axes, commands, strict=False):  # one more axis: the rate
        data = [r.durations.get(command, []) for r in results]
        ax.boxplot(data, showfliers=False, widths=0.6)
        for i, values in enumerate(data, start=1):
            jitter = [i + 0.25 * ((k * 0.618) % 1 - 0.5) for k in range(len(values))]
            ax.plot(jitter, values, ".", alpha=0.5, markersize=4)
        ax.set_title(command)
        ax.set_ylabel("ms")
        ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=7)
    rates = axes[-1]
    rates.bar(range(1, len(labels) + 1), [r.rate for r in results], color="tab:gray")
    rates.set_title("containers per second")
    rates.set_xticks(range(1, len(labels) + 1), labels, fontsize=7)
    fig.tight_layout()
    return fig
