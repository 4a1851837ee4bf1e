"""labkit.shim: the detached subreaper that records and publishes each process's exit, exactly once."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from test_runtime import RUNTIMES, make_bundle
from waiting import wait_until

from labkit.errors import LabkitError
from labkit.events import Exchange
from labkit.runtime import Runtime
from labkit.shim import Request, exit_status, launch, read_exit

pytestmark = [pytest.mark.root]


def _request(runtime: str, lab_root: Path, bundle: Path, id: str, directory: Path) -> Request:
    return Request(kind="init", runtime=runtime, runtime_root=lab_root / runtime, container_id=id, id=id,
                   directory=directory, lab_root=lab_root, bundle=bundle)


def _exits(lab_root: Path, id: str) -> list[dict]:
    return [e.event for e in Exchange(lab_root).replay(f'topic=="/tasks/exit",event.container_id=={id}')]


def test_exit_status_is_the_code_or_128_plus_the_signal() -> None:
    assert exit_status(7 << 8) == 7
    assert exit_status(9) == 137


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exit_is_recorded_and_published_once(runtime: str, lab_root: Path, tmp_path: Path) -> None:
    id = f"shim-{uuid.uuid4().hex[:8]}"
    bundle = make_bundle(tmp_path / "bundle", ["sh", "-c", "echo out; echo err >&2; exit 7"], id)
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        launched = launch(_request(runtime, lab_root, bundle, id, tmp_path), stdout=out, stderr=err)
    parent = int(Path(f"/proc/{launched.pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert "labkit.shim" in Path(f"/proc/{parent}/cmdline").read_text()  # the subreaper is its parent
    Runtime(runtime).start(id)
    assert launched.wait() == 7
    Runtime(runtime).delete(id)
    assert (tmp_path / "out").read_text() == "out\n" and (tmp_path / "err").read_text() == "err\n"
    record = read_exit(tmp_path)
    assert record is not None and (record["pid"], record["exit_status"]) == (launched.pid, 7)
    assert _exits(lab_root, id) == [{"container_id": id, "id": id, **record}]


def test_the_exit_outlives_whoever_launched_it(lab_root: Path, tmp_path: Path) -> None:
    """A launcher that exits at once (``labkit run -d``): nobody listens, the journal still gets the exit."""
    id = f"shim-{uuid.uuid4().hex[:8]}"
    bundle = make_bundle(tmp_path / "bundle", ["sleep", "60"], id)
    code = ("import subprocess, sys; from labkit.shim import Request, launch; "
            "l = launch(Request.from_json(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            "print(l.pid)")
    request = _request("runc", lab_root, bundle, id, tmp_path).to_json()
    pid = int(subprocess.run([sys.executable, "-c", code, request], capture_output=True, text=True, check=True).stdout)
    runtime = Runtime("runc")
    runtime.start(id)
    runtime.kill(id, "KILL")
    wait_until(lambda: read_exit(tmp_path), 5, "the shim never recorded the exit")
    runtime.delete(id)
    record = read_exit(tmp_path)
    assert record is not None and (record["pid"], record["exit_status"]) == (pid, 137)
    assert [e["exit_status"] for e in _exits(lab_root, id)] == [137]


def test_a_runtime_error_comes_back_as_a_labkit_error(lab_root: Path, tmp_path: Path) -> None:
    id = f"shim-{uuid.uuid4().hex[:8]}"
    bundle = make_bundle(tmp_path / "bundle", ["no-such-program"], id)
    with pytest.raises(LabkitError, match=f"runc create {id}: .*no-such-program"):
        launch(_request("runc", lab_root, bundle, id, tmp_path), stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
    subprocess.run(Runtime("runc").command("delete", "--force", id), capture_output=True)
    assert _exits(lab_root, id) == []
