"""The checks of notebooks 01, 02 and 04: worked answers pass, each wrong one gets its own hint."""

from __future__ import annotations

import os
import runpy
from collections.abc import Callable
from pathlib import Path

import pytest

from labkit import cgroups, ns, scratch
from labkit.check import namespaces

pytestmark = pytest.mark.root


SOLUTIONS = Path(__file__).resolve().parents[2] / "notebooks" / "solutions"


def solution(name: str, function: str) -> Callable[..., object]:
    """A worked solution, run as the notebook runs it: with ``ns`` and ``os`` already imported."""
    return runpy.run_path(str(SOLUTIONS / name), init_globals={"ns": ns, "os": os})[function]


isolated = solution("01-isolated.py", "isolated")
enter = solution("02-enter.py", "enter")


def chroot_only(root: str) -> None:
    os.chroot(root)
    os.chdir("/")


def pivot_without_unmount(root: str) -> None:
    os.chdir(root)
    ns.pivot_root(".", ".")


@pytest.mark.parametrize(("check", "answer"), [(namespaces.isolated, isolated), (namespaces.enter_rootfs, enter)])
def test_the_worked_answers_pass(check, answer, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(answer)
    assert capsys.readouterr().out.startswith("✔ ")


@pytest.mark.parametrize(("check", "answer", "hint"), [
    (namespaces.isolated, lambda pid: {e for e, same in ns.shared(pid).items() if not same}, "name types"),
    (namespaces.isolated, lambda pid: set(), "compare inodes"),
    (namespaces.isolated, lambda pid: {"uts", "net"}, "you also said"),
    (namespaces.enter_rootfs, chroot_only, "the chroot escape got out"),
    (namespaces.enter_rootfs, pivot_without_unmount, "unmount the old root"),
])
def test_wrong_answers_get_a_specific_hint(check, answer, hint: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert not check(answer)
    out = capsys.readouterr().out
    assert out.startswith("✘ Not yet: ") and hint in out


def _result(status: int = 0, output: str = "ex04\n1\n", pids: int | None = 10) -> scratch.Result:
    stats = cgroups.Stats(memory_usage=0, memory_peak=0, memory_limit=None, memory_limit_hits=0, oom_kills=0,
                          pids_current=0, pids_limit=pids, pids_refused=0, cpu_usage_ns=0)
    return scratch.Result(status, output, stats)


@pytest.mark.parametrize(("result", "hint"), [
    (_result(), None),
    ("not a result", "pass the Result"),
    (_result(status=127, output="sh: nope: not found\n"), "exited with status 127"),
    (_result(output="scratch\n1\n"), "pass hostname='ex04'"),
    (_result(output="ex04\n7\n"), "so that sh is PID 1"),
    (_result(pids=None), "pass pids=10"),
])
def test_the_scratch_result_is_checked_line_by_line(result: object, hint: str | None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert namespaces.scratch_result(result) == (hint is None)
    out = capsys.readouterr().out
    assert out.startswith("✔ ") if hint is None else hint in out
