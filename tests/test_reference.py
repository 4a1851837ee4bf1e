"""Reference parsing and normalisation, as distribution's reference package does it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parsing import parsed_or_refused

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
    ("busybox:Latest", "docker.io/library/busybox:Latest"),
    ("Registry.Example/app", "Registry.Example/app:latest"),
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
    ("a_b.c/d", "not a valid registry host"),
    ("a/b..c", "expected"),
    ("-a/b", "expected"),
    ("busybox@sha256:abc", "64 lowercase hex"),
    ("busybox@md5:" + "0" * 32, "unsupported digest algorithm"),
    ("x/" + "a" * 255, "longer than 255"),
    ("busybox:caf\u00e9", "expected"),  # a tag is ASCII (Go's \w), not any letter
    ("busybox:\u096f", "expected"),  # a Devanagari digit nine
])  # fmt: skip
def test_invalid_references_say_why(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Reference.parse(text)


# no "." in components: a first component with one would be taken for a registry host
_component = st.from_regex(r"[a-z0-9]{1,8}(?:(?:_|__|-+)[a-z0-9]{1,8}){0,2}", fullmatch=True)
_references = st.builds(
    lambda domain, path, tag, digest: f"{domain}{'/'.join(path)}{tag}{digest}",
    st.sampled_from(["", "docker.io/", "localhost/", "127.0.0.1:5000/", "quay.io/", "registry.example:443/"]),
    st.lists(_component, min_size=1, max_size=3),
    st.one_of(st.just(""), st.from_regex(r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)),  # Go's \w: ASCII
    st.one_of(st.just(""), st.from_regex(r"@sha256:[0-9a-f]{64}", fullmatch=True)),
)


@settings(max_examples=60, deadline=None)
@given(_references)
def test_normalising_is_idempotent(text: str) -> None:
    """A normalised reference parses to itself: what labkit stores as a name can be parsed again."""
    ref = Reference.parse(text)
    assert Reference.parse(str(ref)) == ref
    assert ref.tag or ref.digest


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), _references.map(lambda ref: ref + "\u00e9"), st.text("a:/@.-_9", max_size=80)))
def test_any_text_parses_or_is_refused_with_one_line(text: str) -> None:
    """Whatever a learner (or a registry's ``Location``) hands in, the parser answers or says why, in one line."""
    if (ref := parsed_or_refused(Reference.parse, text)) is not None:
        assert str(ref).isascii() and Reference.parse(str(ref)) == ref
