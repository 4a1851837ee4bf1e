"""``labkit pull`` and ``labkit images pull|ls|rm`` against the lab registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.cli import main

pytestmark = [pytest.mark.registry]


def test_pull_prints_the_resolved_digest_and_publishes(registry: str, lab_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["pull", "--plain-http", f"{registry}/lab/busybox"]) == 0
    digest = capsys.readouterr().out.strip()
    assert digest.startswith("sha256:") and len(digest) == 71
    topics = [json.loads(line)["topic"] for line in (lab_root / "events.jsonl").read_text().splitlines()]
    assert topics == ["/content/create"] * 3 + ["/images/create"]


def test_images_pull_platform_then_ls_and_rm(registry: str, lab_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["images", "pull", "--plain-http", "--platform", "linux/arm64", f"{registry}/lab/multiarch"]) == 0
    assert main(["pull", "--plain-http", f"{registry}/lab/layers"]) == 0
    capsys.readouterr()
    assert main(["images", "ls"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["REF", "TYPE", "DIGEST", "SIZE", "PLATFORM"]
    assert [row.split()[0] for row in rows] == [f"{registry}/lab/layers:latest", f"{registry}/lab/multiarch:latest"]
    assert rows[1].split()[1] == "application/vnd.oci.image.index.v1+json" and rows[1].endswith("linux/arm64")
    assert main(["images", "rm", f"{registry}/lab/layers"]) == 0
    capsys.readouterr()
    main(["images", "ls"])
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize(("args", "message"), [
    (["pull", "--plain-http", "{registry}/lab/busybox:missing"], "lab/busybox:missing: not found"),
    (["pull", "--plain-http", "--user", ":no-user-name", "{registry}/lab/busybox"], "--user must be USER:PASSWORD"),
    (["pull", "--plain-http", "--platform", "linux", "{registry}/lab/busybox"], "invalid platform 'linux'"),
    (["pull", "Upper/Case"], "must be lowercase"),
    (["images", "rm", "{registry}/lab/never-pulled"], "not found"),
])  # fmt: skip
def test_user_errors_are_one_line(registry: str, lab_root: Path, capsys: pytest.CaptureFixture, args: list[str],
                                  message: str) -> None:  # fmt: skip
    assert main([arg.format(registry=registry) for arg in args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("labkit: ") and message in err and err.count("\n") == 1
