"""Platform names, normalised the way containerd's platforms package does."""

from __future__ import annotations

import platform

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parsing import parsed_or_refused

from labkit.errors import InvalidArgument
from labkit.platforms import Platform


@pytest.mark.parametrize(("text", "normalised"), [
    ("linux/amd64", "linux/amd64"), ("linux/x86_64", "linux/amd64"), ("Linux/AARCH64", "linux/arm64"),
    ("linux/arm64/v8", "linux/arm64"), ("linux/arm", "linux/arm/v7"), ("linux/arm/v6", "linux/arm/v6"),
])  # fmt: skip
def test_parse_normalises(text: str, normalised: str) -> None:
    assert str(Platform.parse(text)) == normalised


def test_equal_after_normalising_and_round_trip() -> None:
    assert Platform.from_dict({"os": "linux", "architecture": "arm64", "variant": "v8"}) == Platform.parse("linux/aarch64")
    assert Platform.parse("linux/arm/v7").to_dict() == {"os": "linux", "architecture": "arm", "variant": "v7"}


def test_host_platform() -> None:
    assert Platform.host() == Platform("linux", platform.machine())


@pytest.mark.parametrize("text", ["linux", "linux/", "a/b/c/d"])
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidArgument, match="OS/ARCH"):
        Platform.parse(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_platform_text_parses_or_is_refused_in_one_line(text: str) -> None:
    if (parsed := parsed_or_refused(Platform.parse, text)) is not None:
        assert Platform.parse(str(parsed)) == parsed


@pytest.mark.parametrize("data", [None, "linux", ["linux"], {"os": 5}, {"os": "linux", "architecture": ["amd64"]}])
def test_a_platform_object_holds_strings(data: object) -> None:
    with pytest.raises(InvalidArgument, match="invalid platform"):
        Platform.from_dict(data)
