"""``labkit bench [FILE]``: time the container lifecycle with several engines, as bucketbench does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = subparsers.add_parser("bench", help="time run/pause/resume/stop/delete/wait with labkit, runc, crun, ctr")
    bench.add_argument("file", nargs="?", type=Path, metavar="FILE",
                       help="a suite in YAML (default: the project's bench/lifecycle.yaml, every driver)")
    bench.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from ..bench import load, report, run_suite  # here: PyYAML and matplotlib, which `labkit doctor` must not need

    suite = load(args.file)
    print(f"suite {suite.name}: {' '.join(suite.commands)}", file=sys.stderr)
    results = run_suite(suite, root=args.root, progress=lambda d: print(
        f"  {d.type}: {d.threads} thread(s) x {d.iterations} container(s)", file=sys.stderr))
    for result in results:
        for message in result.messages[:3]:
            print(f"labkit: bench {result.driver}: {message}", file=sys.stderr)
    print(report.render(results))
    return 0
