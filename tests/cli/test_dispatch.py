"""The command table: every command module is reachable, and each command builds only its own parser."""

from __future__ import annotations

import importlib
import pkgutil

import labkit.cli as cli


def test_every_command_module_is_in_the_table() -> None:
    names = [m.name for m in pkgutil.iter_modules(cli.__path__) if not m.name.startswith("_")]
    modules = {name for name in names if hasattr(importlib.import_module(f"labkit.cli.{name}"), "register")}
    assert modules == set(cli.COMMANDS.values())
    assert set(names) - modules == {"forkserver"}  # how commands run, not a command


def test_each_command_is_defined_by_the_module_the_table_names() -> None:
    for command, module in cli.COMMANDS.items():
        parser = cli.build_parser(command)
        assert parser.parse_args([command, *_minimal_args(command)]).command == command, module


def _minimal_args(command: str) -> list[str]:
    return {"pull": ["REF"], "images": ["ls"], "unpack": ["REF", "DIR"], "run": ["REF", "ID"], "containers": ["ls"],
            "tasks": ["ls"], "events": [], "metrics": ["serve"], "serve": [], "containerd": ["status"], "bench": [],
            "lab": ["status"], "doctor": []}[command]


def test_the_command_word_skips_global_options() -> None:
    assert cli._command_word(["--root", "/tmp/x", "tasks", "ls"]) == "tasks"
    assert cli._command_word(["--help"]) == "--help"
    assert cli._command_word([]) is None
