"""The command table: every command module is reachable, and each command is defined by the module it names."""

from __future__ import annotations

import importlib
import pkgutil

import labkit.cli as cli


def test_every_command_module_is_in_the_table() -> None:
    names = [m.name for m in pkgutil.iter_modules(cli.__path__) if not m.name.startswith("_")]
    modules = {name for name in names if hasattr(importlib.import_module(f"labkit.cli.{name}"), "register")}
    assert modules == {module.__name__.rpartition(".")[2] for module in cli.COMMANDS.values()}
    assert set(names) == modules  # every module of the package is a command's


def test_each_command_is_defined_by_the_module_the_table_names() -> None:
    parser = cli.build_parser()
    for command, module in cli.COMMANDS.items():
        args = parser.parse_args([command, *_minimal_args(command)])
        assert args.command == command and args.func.__module__ == module.__name__, command


def _minimal_args(command: str) -> list[str]:
    return {"pull": ["REF"], "images": ["ls"], "unpack": ["REF", "DIR"], "run": ["REF", "ID"], "containers": ["ls"],
            "tasks": ["ls"], "events": [], "metrics": ["serve"], "serve": [], "containerd": ["status"], "bench": [],
            "lab": ["status"], "doctor": []}[command]


def test_the_global_root_option_reaches_every_command() -> None:
    args = cli.build_parser().parse_args(["--root", "/tmp/x", "tasks", "ls"])
    assert (args.command, str(args.root)) == ("tasks", "/tmp/x")
    assert cli.build_parser().parse_args(["tasks", "ls"]).root is None  # the handlers' default: default_root()
