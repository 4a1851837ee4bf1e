"""containerd's gRPC stubs, generated from Debian's .proto files into labkit/_generated/."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from labkit.api import protos


@pytest.fixture(scope="module")
def generated() -> None:
    if not protos.GOCODE.joinpath("containerd/containerd/api").is_dir():
        pytest.skip("needs golang-github-containerd-containerd-dev")
    protos.generate()


def test_stubs_load_with_containerd_wire_names(generated: None) -> None:
    events = protos.load("api/services/events/v1/events_pb2")
    task = protos.load("api/events/task_pb2")
    assert events.Envelope.DESCRIPTOR.full_name == "containerd.services.events.v1.Envelope"
    assert task.TaskExit.DESCRIPTOR.full_name == "containerd.events.TaskExit"
    assert [m.name for m in protos.load("api/services/events/v1/events_pb2").DESCRIPTOR.services_by_name["Events"]
            .methods] == ["Publish", "Forward", "Subscribe"]


def test_imports_are_rewritten_into_the_package(generated: None) -> None:
    staged = (protos.OUTPUT / "containerd/api/events/task.proto").read_text()
    assert 'import "labkit/_generated/containerd/api/types/mount.proto";' in staged
    assert 'import "google/protobuf/timestamp.proto";' in staged  # well-known types come from protobuf itself
    assert "github.com/" not in staged.split("option go_package")[0]


def test_generating_again_is_a_quick_no_op(generated: None) -> None:
    stamp = (protos.OUTPUT / "STAMP").stat().st_mtime_ns
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "labkit.api.protos"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == str(protos.OUTPUT)
    assert time.monotonic() - started < 5
    assert (protos.OUTPUT / "STAMP").stat().st_mtime_ns == stamp


def test_generated_code_is_ignored_by_git(generated: None) -> None:
    ignored = subprocess.run(["git", "check-ignore", str(protos.OUTPUT / "STAMP")], capture_output=True, text=True)
    assert ignored.returncode == 0
