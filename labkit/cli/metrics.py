"""``labkit metrics serve`` and ``labkit tasks metrics ID``: task metrics, as ``ctr`` shows them.

``labkit metrics serve`` is containerd's ``[metrics] address`` endpoint: Prometheus
text at ``http://HOST:PORT/metrics`` for every running task, on loopback only.
``labkit tasks metrics ID`` prints one task's numbers in the table ``ctr tasks metrics``
prints. The ``tasks`` group belongs to ``cli/tasks.py``, which attaches this command
with :func:`add_task_metrics`.
"""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING

from .. import cgroups
from ..supervisor import Supervisor
from ..timestamps import go_time, now

if TYPE_CHECKING:  # labkit.metrics imports prometheus_client: the handlers import it (see serve_command)
    from ..metrics import Metrics

__all__ = ["register", "add_task_metrics", "DEFAULT_ADDRESS"]

#: containerd's examples use port 1338 for ``[metrics] address``; any free loopback port works.
DEFAULT_ADDRESS = "127.0.0.1:1338"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    metrics = subparsers.add_parser("metrics", help="export the running tasks' metrics for Prometheus")
    verbs = metrics.add_subparsers(dest="verb", metavar="VERB", required=True)
    serve = verbs.add_parser("serve", help="serve Prometheus text at http://ADDRESS/metrics until interrupted")
    serve.add_argument("--address", default=DEFAULT_ADDRESS,
                       help=f"loopback HOST:PORT, port 0 for any free one (default {DEFAULT_ADDRESS})")
    serve.set_defaults(func=serve_command)


def add_task_metrics(task_verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``metrics ID`` to the ``tasks`` group's sub-commands (called by ``cli/tasks.py``)."""
    show = task_verbs.add_parser("metrics", help="print a task's cgroup metrics, as `ctr tasks metrics` does")
    show.add_argument("id", metavar="ID", help="the container id of a running task")
    show.set_defaults(func=task_metrics_command)


def serve_command(args: argparse.Namespace) -> int:
    from .. import metrics  # here: prometheus_client, which `labkit doctor` must not need

    address, stop = metrics.serve(args.address, lambda: metrics.running(Supervisor(args.root)))
    print(f"serving metrics at http://{address}/metrics", flush=True)
    try:
        threading.Event().wait()
    finally:
        stop()
    return 0


def _rows(m: Metrics) -> list[tuple[str, object]]:
    """The rows ``ctr tasks metrics`` prints, named as it names them for this host's cgroup version."""
    c, limit = m.cgroup, lambda value: "max" if value is None else value
    if cgroups.version() == 2:  # ctr: printCgroup2MetricsTable
        return [("pids.current", c.pids_current), ("pids.limit", limit(c.pids_limit)),
                ("cpu.usage_usec", c.cpu_usage_ns // 1000), ("cpu.user_usec", m.cpu_user_ns // 1000),
                ("cpu.system_usec", m.cpu_kernel_ns // 1000),
                ("memory.usage", c.memory_usage), ("memory.usage_limit", limit(c.memory_limit)),
                ("memory.events.max", c.memory_limit_hits), ("memory.events.oom_kill", c.oom_kills)]
    return [("memory.usage_in_bytes", c.memory_usage), ("memory.limit_in_bytes", limit(c.memory_limit)),  # v1
            ("memory.max_usage_in_bytes", c.memory_peak), ("memory.failcnt", c.memory_limit_hits),
            ("memory.oom_control.oom_kill", c.oom_kills), ("cpuacct.usage", c.cpu_usage_ns),
            ("cpuacct.usage_user", m.cpu_user_ns), ("cpuacct.usage_sys", m.cpu_kernel_ns),
            ("pids.current", c.pids_current), ("pids.limit", limit(c.pids_limit))]


def task_metrics_command(args: argparse.Namespace) -> int:
    from .. import metrics  # here: prometheus_client (see serve_command)

    m = metrics.read(args.id)
    rows = _rows(m)
    width = max(len(m.container_id), 2)
    print(f"{'ID':<{width}}    TIMESTAMP\n{m.container_id:<{width}}    {go_time(now())}\n")
    width = max(len(name) for name, _ in rows)
    print(f"{'METRIC':<{width}}    VALUE")
    for name, value in rows:
        print(f"{name:<{width}}    {value}")
    return 0
