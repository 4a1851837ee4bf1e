"""labkit.widgets.chart: samples a busy task's cgroup, draws a PNG, and stops when the cgroup goes."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from waiting import wait_until

from labkit import cgroups
from labkit.widgets.chart import TaskChart


@pytest.mark.root
def test_chart_follows_a_task_until_its_cgroup_goes() -> None:
    group = cgroups.create(f"chart-{uuid.uuid4().hex[:8]}", memory=64 << 20)
    busy = subprocess.Popen(["sh", "-c", "while :; do :; done"], preexec_fn=lambda: group.add(os.getpid()))
    try:
        chart = TaskChart(group.name, interval=0.1)
        wait_until(lambda: len(chart.samples) >= 3, 10, "the chart took no samples")
    finally:
        busy.kill()
        busy.wait()
        group.remove()
    wait_until(lambda: not chart.following, 5, "the chart never noticed the cgroup was gone")
    samples = chart.samples
    assert len(samples) >= 3 and samples[-1].cpu_percent > 0 and samples[0].memory_mib > 0
    assert bytes(chart.children[1].value).startswith(b"\x89PNG")
    assert "stopped" in chart.children[0].value
