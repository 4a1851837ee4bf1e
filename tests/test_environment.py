"""pyproject.toml, environment.yml and binder/environment.yml name the same Python dependencies."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parent.parent


def _pip_list(path: Path) -> list[str]:
    dependencies = yaml.safe_load(path.read_text())["dependencies"]
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict))
    return [d for d in pip if not d.startswith("-e")]


def test_conda_environments_match_pyproject() -> None:
    declared = tomllib.loads((TOP / "pyproject.toml").read_text())["project"]["dependencies"]
    assert _pip_list(TOP / "environment.yml") == declared
    assert _pip_list(TOP / "binder" / "environment.yml") == declared


def test_binder_installs_labkit() -> None:
    assert "pip install" in (TOP / "binder" / "postBuild").read_text()
    assert "graphviz" in (TOP / "binder" / "apt.txt").read_text().split()


def test_ci_runs_the_readme_test_command() -> None:
    assert "./run test" in (TOP / "README.md").read_text()
    assert "./run test" in (TOP / ".ci" / "run").read_text()
