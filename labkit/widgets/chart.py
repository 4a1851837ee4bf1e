"""A live chart of one running task: its memory and CPU, redrawn as they move (notebook 10).

A background thread reads the task's cgroup every ``interval`` seconds
(:func:`labkit.metrics.read`), keeps the last ``window`` samples, draws them with
matplotlib's Agg canvas (no pyplot, no GUI) and assigns the PNG to an ``Image``
widget's ``value`` — the one trait assignment a thread may make (CONTRIBUTING.md,
"Pictures and widgets"). CPU is shown as a percentage of one CPU: the growth of
``cpuacct.usage`` between two samples divided by the wall time between them. The
chart stops by itself when the task's cgroup goes away.
"""

from __future__ import annotations

import io
import threading
import time
from collections import deque
from dataclasses import dataclass

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import metrics
from ..errors import NotFound

__all__ = ["Sample", "TaskChart"]

_MiB = 1 << 20


@dataclass(frozen=True)
class Sample:
    """One point of the chart: seconds since the chart started, memory in MiB, CPU in % of one CPU."""

    seconds: float
    memory_mib: float
    cpu_percent: float


class TaskChart(widgets.VBox):
    """Memory (with its limit) and CPU of task ``container_id``, updated every ``interval`` seconds."""

    def __init__(self, container_id: str, interval: float = 0.5, window: int = 120) -> None:
        self.container_id = container_id
        self._interval = interval
        self._samples: deque[Sample] = deque(maxlen=window)
        self._limit_mib: float | None = None
        self._stopped = threading.Event()
        self._title = widgets.HTML()
        self._image = widgets.Image(format="png")
        super().__init__([self._title, self._image])
        self._thread = threading.Thread(target=self._follow, name="labkit-task-chart", daemon=True)
        self._thread.start()

    @property
    def samples(self) -> list[Sample]:
        return list(self._samples)

    @property
    def following(self) -> bool:
        """Whether the chart still samples (it stops with ``stop()`` or when the task's cgroup goes)."""
        return self._thread.is_alive()

    def _follow(self) -> None:
        start = last_wall = time.monotonic()
        last_cpu = None
        while not self._stopped.is_set():
            try:
                m = metrics.read(self.container_id)
            except NotFound:
                break
            now = time.monotonic()
            cpu = 0.0 if last_cpu is None else (m.cgroup.cpu_usage_ns - last_cpu) / ((now - last_wall) * 1e9) * 100
            last_cpu, last_wall = m.cgroup.cpu_usage_ns, now
            limit = m.cgroup.memory_limit
            self._limit_mib = None if limit is None else limit / _MiB
            self._samples.append(Sample(now - start, m.cgroup.memory_usage / _MiB, cpu))
            self._render("following")
            self._stopped.wait(self._interval)
        self._render("stopped")

    def _render(self, state: str) -> None:
        latest = self._samples[-1] if self._samples else Sample(0, 0, 0)
        self._title.value = (f"<b>{self.container_id}</b> — {state}: memory {latest.memory_mib:.1f} MiB, "
                             f"CPU {latest.cpu_percent:.0f}%")
        figure = Figure(figsize=(7, 3.2), dpi=80)
        memory, cpu = figure.subplots(2, 1, sharex=True)
        seconds = [s.seconds for s in self._samples]
        memory.plot(seconds, [s.memory_mib for s in self._samples], color="tab:blue")
        if self._limit_mib is not None:
            memory.axhline(self._limit_mib, color="tab:red", linestyle="--", label="limit")
            memory.legend(loc="upper left")
        memory.set_ylabel("memory (MiB)")
        cpu.plot(seconds, [s.cpu_percent for s in self._samples], color="tab:orange")
        cpu.set_ylabel("CPU (%)")
        cpu.set_xlabel("seconds")
        figure.tight_layout()
        png = io.BytesIO()
        FigureCanvasAgg(figure).print_png(png)
        self._image.value = png.getvalue()

    def stop(self) -> None:
        """End the thread (it also ends by itself when the task is gone)."""
        self._stopped.set()
        self._thread.join(timeout=5)

    def __repr__(self) -> str:
        return f"TaskChart({self.container_id!r}, {len(self._samples)} samples)"
