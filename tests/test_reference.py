"""Reference parsing and normalisation, as distribution's reference package does it."""

from __future__ import annotations

import pytest

from labkit.errors import InvalidArgument
from labkit.reference import Reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("text", "normalised"), [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("index.docker.io/busybox", "docker.io/library/busybox:latest"),
    ("someone/tool", "docker.io/someone/tool:latest"),
    ("quay.io/org/app:v1.2-rc_3", "quay.io/org/app:v1.2-rc_3"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("127.0.0.1:5000/lab/busybox", "127.0.0.1:5000/lab/busybox:latest"),
    (f"127.0.0.1:5000/lab/busybox@{DIGEST}", f"127.0.0.1:5000/lab/busybox@{DIGEST}"),
    (f"busybox:1.36@{DIGEST}", f"docker.io/library/busybox:1.36@{DIGEST}"),
    ("a-b__c/d.e_f", "docker.io/a-b__c/d.e_f:latest"),
    ("a.b/c", "a.b/c:latest"),
])  # fmt: skip
def test_normalisation(text: str, normalised: str) -> None:
    assert str(Reference.parse(text)) == normalised


def test_parts() -> None:
    ref = Reference.parse("busybox")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("docker.io", "library/busybox", "latest", None)
    assert ref.name == "docker.io/library/busybox" and ref.api_host == "registry-1.docker.io"
    assert ref.object == "latest"
    pinned = Reference.parse(f"127.0.0.1:5000/lab/busybox:old@{DIGEST}")
    assert pinned.object == DIGEST and pinned.api_host == "127.0.0.1:5000"


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    (" busybox", "spaces"),
    ("BusyBox", "must be lowercase"),
    ("busybox:", "expected"),
    ("busybox:-x", "expected"),
    ("a//b", "expected"),
    ("a/b..c", "expected"),
    ("-a/b", "expected"),
    ("busybox@sha256:abc", "64 lowercase hex"),
    ("busybox@md5:" + "0" * 32, "unsupported digest algorithm"),
    ("x/" + "a" * 255, "longer than 255"),
])  # fmt: skip
def test_invalid_references_say_why(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Reference.parse(text)
