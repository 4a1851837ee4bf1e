"""A lifecycle benchmark in the spirit of Bucketbench (reference.md, "Bucketbench").

The containerd 1.0 story names Bucketbench, a tool that times container lifecycle
operations across engines. This package is the lab's own:

- ``config``:  the small YAML suite format (image or bundle, drivers, commands).
- ``bundle``:  the busybox runtime bundle the bare runtimes run.
- ``drivers``: one class per engine (labkit, labkit-cli, runc, crun, ctr), one method per command.
- ``run``:     threads of fresh containers, every command timed.
- ``stats``:   min / max / avg / median / stddev / errors, and containers per second.
- ``report``:  tables for the terminal, rows for a DataFrame, plots for the notebook.
"""

from __future__ import annotations

from .config import DriverSpec, Suite, load, parse
from .run import RunResult, run_driver, run_suite

__all__ = ["DriverSpec", "Suite", "load", "parse", "RunResult", "run_driver", "run_suite"]
