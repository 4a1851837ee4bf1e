"""Notebook 05's check names what is wrong with a wrong answer."""

from __future__ import annotations

import json

import pytest

from labkit.check import registry as check
from labkit.images import pull

pytestmark = [pytest.mark.registry]


def test_right_and_wrong_answers(registry: str, lab_root, capsys: pytest.CaptureFixture) -> None:
    arm = pull(f"{registry}/lab/multiarch", plain_http=True, platform="linux/arm64")
    amd = pull(f"{registry}/lab/multiarch", plain_http=True, platform="linux/amd64")
    index = json.loads(arm.store.read(arm.target.digest))
    assert check.arm64_config(arm.config)
    assert not check.arm64_config(amd.config) and "wrong index entry" in capsys.readouterr().out
    assert not check.arm64_config(arm.manifest) and "that is a manifest" in capsys.readouterr().out
    assert not check.arm64_config(index) and "that is the index" in capsys.readouterr().out
    assert not check.arm64_config("sha256:...") and "as a dict" in capsys.readouterr().out
