"""Run a suite: for each driver, ``threads`` threads each taking ``iterations`` fresh containers
through the suite's commands, timing every call (reference.md, "Bucketbench").

Container names are ``<prefix>-<thread>-<iteration>``, so two threads never touch the
same container and a leftover is easy to trace back. A failed command counts as an
error of that command and ends that container's iteration (the rest of its commands
would only fail too); the container is cleaned up either way, untimed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabkitError
from .config import DriverSpec, Suite
from .drivers import Driver, make
from .stats import CommandStats, rate, summarize

__all__ = ["RunResult", "run_driver", "run_suite"]


@dataclass
class RunResult:
    """What one driver did at one thread count: raw timings (ms) and the wall time of the whole run."""

    driver: str
    threads: int
    iterations: int
    commands: tuple[str, ...]
    seconds: float = 0.0
    completed: int = 0
    durations: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Containers per second: those that went through every command, over the wall time."""
        return rate(self.completed, self.seconds)

    def stats(self) -> list[CommandStats]:
        """One summary per command, in the suite's order."""
        return [summarize(c, self.durations.get(c, []), self.errors.get(c, 0)) for c in self.commands]


def _thread(driver: Driver, result: RunResult, thread: int, lock: threading.Lock) -> None:
    for i in range(result.iterations):
        name = f"{driver.suite.prefix}-{thread}-{i}"
        try:
            driver.setup(name)
            for command in result.commands:
                start = time.perf_counter()
                try:
                    getattr(driver, command)(name)
                except (LabkitError, OSError) as err:
                    with lock:
                        result.errors[command] = result.errors.get(command, 0) + 1
                        result.messages.append(f"{name} {command}: {err}")
                    break
                elapsed_ms = (time.perf_counter() - start) * 1000
                with lock:
                    result.durations.setdefault(command, []).append(elapsed_ms)
            else:
                with lock:
                    result.completed += 1
        finally:
            driver.cleanup(name)


def run_driver(suite: Suite, spec: DriverSpec, root: Path | None = None) -> RunResult:
    """Time ``spec.threads`` threads of ``spec.iterations`` containers each with one driver, under lab root ``root``."""
    driver = make(spec.type, suite, root)
    driver.prepare()
    try:
        result = RunResult(spec.type, spec.threads, spec.iterations, suite.commands)
        lock = threading.Lock()
        threads = [threading.Thread(target=_thread, args=(driver, result, n, lock), name=f"bench-{spec.type}-{n}")
                   for n in range(spec.threads)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result.seconds = time.perf_counter() - start
    finally:
        driver.close()
    return result


def run_suite(suite: Suite, progress: Callable[[DriverSpec], None] | None = None,
              root: Path | None = None) -> list[RunResult]:
    """Run every driver of ``suite`` in turn (never two at once: they would time each other), under ``root``."""
    results = []
    for spec in suite.drivers:
        if progress:
            progress(spec)
        results.append(run_driver(suite, spec, root))
    return results
