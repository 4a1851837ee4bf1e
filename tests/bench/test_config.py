"""The suite format: what it accepts, and the lifecycle rules it enforces on commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.bench.config import DEFAULT_SUITE, DRIVERS, DriverSpec, load, parse
from labkit.errors import InvalidArgument

SUITE = """
name: basic
image: 127.0.0.1:5000/lab/busybox:latest
bundle: /srv/bundle
args: [sleep, "60"]
prefix: t
drivers:
  - {type: runc, threads: 2, iterations: 5}
  - {type: labkit}
commands: [run, pause, resume, stop, delete]
"""


def test_parse_reads_every_field() -> None:
    suite = parse(SUITE)
    assert suite.name == "basic"
    assert suite.bundle == Path("/srv/bundle")
    assert suite.args == ("sleep", "60")
    assert suite.prefix == "t"
    assert suite.drivers == (DriverSpec("runc", 2, 5), DriverSpec("labkit", 1, 10))
    assert suite.commands == ("run", "pause", "resume", "stop", "delete")


def test_the_default_suite_has_every_driver() -> None:
    suite = load()
    assert DEFAULT_SUITE.name == "lifecycle.yaml"
    assert {d.type for d in suite.drivers} == set(DRIVERS)
    assert suite.commands == ("run", "stop", "delete")


@pytest.mark.parametrize(("commands", "message"), [
    ("[stop, delete]", "'stop' needs a running container"),
    ("[run, resume]", "'resume' needs a paused container"),
    ("[run, delete]", "'delete' needs a stopped container"),
    ("[run, stop, stop]", "'stop' needs a running container"),
    ("[run, remove]", "unknown bench command 'remove'"),
])
def test_commands_must_follow_the_lifecycle(commands: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse(f"drivers: [{{type: runc}}]\ncommands: {commands}\n")


@pytest.mark.parametrize(("text", "message"), [
    ("drivers: [{type: docker}]\ncommands: [run]", "needs a type"),
    ("drivers: [{type: runc, threads: 0}]\ncommands: [run]", "at least 1"),
    ("drivers: [{type: ctr}]\ncommands: [run]", "need an 'image'"),
    ("drivers: [{type: runc}]\ncommands: [run]\nrootfs: /x", "unknown key"),
    ("commands: [run]", "needs a mapping"),
    ("drivers: [", "not valid YAML"),
])
def test_bad_suites_name_their_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse(text)


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="no such file"):
        load(tmp_path / "nope.yaml")
