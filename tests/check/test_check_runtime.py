"""Notebooks 07 and 09's exercise checks: the worked answers pass, each mistake gets its own hint."""

from __future__ import annotations

import copy

import pytest

from labkit import oci
from labkit.check.runtime import hostname_spec, stops_on_sigterm

RIGHT = oci.spec_from_image({"config": {"Cmd": ["sh"]}}, args=["hostname"], hostname="lab07", pids=10,
                            cgroups_path="/labkit/ex07")


def _changed(path: list[str], value: object) -> dict:
    spec = copy.deepcopy(RIGHT)
    *parents, last = path
    target = spec
    for key in parents:
        target = target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return spec


def test_the_worked_07_answer_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert hostname_spec(RIGHT)
    assert capsys.readouterr().out.startswith("✔")


@pytest.mark.parametrize(("path", "value", "words"), [
    (["process", "args"], ["sh"], "exactly ['hostname']"),
    (["hostname"], "box", "set it to 'lab07'"),
    (["linux", "namespaces"], [{"type": "pid"}, {"type": "mount"}], "UTS namespace"),
    (["linux", "resources", "pids"], None, "linux.resources.pids.limit"),
    (["linux", "cgroupsPath"], "/ex07", "'/labkit/ex07'"),
    (["process", "terminal"], True, "--console-socket"),
    (["ociVersion"], None, "runc would refuse it"),
])
def test_each_07_mistake_gets_its_hint(path: list[str], value: object, words: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert not hostname_spec(_changed(path, value))
    out = capsys.readouterr().out
    assert out.startswith("✘") and words in out


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.slow
@pytest.mark.tool("runc")
def test_09_pid_1_needs_a_handler(lab_root: object, registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    from labkit import images

    ref = f"{registry}/lab/busybox:latest"
    images.pull(ref, plain_http=True)
    assert stops_on_sigterm(["sh", "-c", "trap 'exit 143' TERM; sleep 1000 & wait"], ref)
    assert "exit status 143" in capsys.readouterr().out
    assert not stops_on_sigterm(["sleep", "1000"], ref)
    assert "PID 1 ignored SIGTERM" in capsys.readouterr().out
    assert not stops_on_sigterm(["true"], ref)
    assert "exited by itself" in capsys.readouterr().out
