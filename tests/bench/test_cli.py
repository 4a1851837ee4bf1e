"""``labkit bench``: every driver through the whole lifecycle, both tables and the ratios printed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labkit.cli import main

ALL_DRIVERS = """
name: every-driver
image: {registry}/lab/busybox:latest
prefix: {prefix}
drivers:
  - {{type: runc, threads: 1, iterations: 1}}
  - {{type: crun, threads: 1, iterations: 1}}
  - {{type: ctr, threads: 1, iterations: 1}}
  - {{type: labkit-cli, threads: 1, iterations: 1}}
  - {{type: labkit, threads: 1, iterations: 2}}
commands: [run, pause, resume, stop, delete]
"""


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.slow
@pytest.mark.tool("runc", "crun", "ctr", "containerd")
def test_bench_runs_every_driver_and_prints_both_tables(lab_root: Path, registry: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(ALL_DRIVERS.format(registry=registry, prefix=f"cli{os.getpid()}"))
    assert main(["bench", str(suite)]) == 0
    out, err = capsys.readouterr()
    assert "labkit: bench" not in err, err  # no command failed
    rates, latencies, ratios = out.split("\n\n")
    assert [line.split()[:4] for line in rates.splitlines()[2:]] == [
        ["runc", "1", "1", "1"], ["crun", "1", "1", "1"], ["ctr", "1", "1", "1"],
        ["labkit-cli", "1", "1", "1"], ["labkit", "1", "2", "2"]]
    rows = [line.split() for line in latencies.splitlines()[2:]]
    assert len(rows) == 5 * 5 and all(row[4] == "0" for row in rows)  # no errors
    assert ratios.splitlines()[0] == "labkit's rate against the baselines on run+pause+resume+stop+delete"
    assert [line.split()[1] for line in ratios.splitlines()[2:]] == ["labkit/runc", "labkit/ctr"]
    assert not list((lab_root / "containers").glob("cli*")), "every container is deleted"


def test_a_bad_suite_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "bad.yaml"
    suite.write_text("drivers: [{type: runc}]\ncommands: [stop]\n")
    assert main(["bench", str(suite)]) == 1
    assert capsys.readouterr().err == ("labkit: bench command 'stop' needs a running container, "
                                       "but after nothing it is not created\n")
