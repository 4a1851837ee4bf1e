"""Descriptors and the JSON they come in: whatever a registry sends, one clear InvalidArgument or a descriptor."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parsing import parsed_or_refused

from labkit.descriptor import Descriptor, check_document, descriptors, load_json
from labkit.errors import InvalidArgument

DIGEST = "sha256:" + "ab" * 32
GOOD = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": DIGEST, "size": 3}

#: any JSON value, nested a little
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
#: a descriptor with one field replaced by any JSON value
_mangled = st.builds(lambda key, value: {**GOOD, key: value},
                     st.sampled_from(["mediaType", "digest", "size", "platform", "annotations"]), _json)


def test_a_descriptor_round_trips() -> None:
    desc = Descriptor.from_dict({**GOOD, "platform": {"os": "linux", "architecture": "x86_64"}})
    assert desc.size == 3 and str(desc.platform) == "linux/amd64"
    assert Descriptor.from_dict(desc.to_dict()) == desc


@pytest.mark.parametrize(("data", "message"), [
    (5, "a JSON number, not an object"),
    ([GOOD], "a JSON array, not an object"),
    ({**GOOD, "size": 1e999}, "size inf is not an int64"),
    ({**GOOD, "size": 2.5}, "not an int64"),
    ({**GOOD, "size": "3"}, "not an int64"),
    ({**GOOD, "size": True}, "not an int64"),
    ({**GOOD, "size": 1 << 63}, "not an int64"),
    ({**GOOD, "size": -1}, "not an int64"),
    ({**GOOD, "digest": 7}, "digest is a JSON number"),
    ({**GOOD, "digest": "sha256:" + "0" * 5000}, "invalid digest 'sha256:0000"),
    ({**GOOD, "mediaType": None}, "mediaType is a JSON null"),
    ({**GOOD, "platform": "linux/amd64"}, "invalid platform"),
    ({**GOOD, "platform": {"os": 5, "architecture": "amd64"}}, "invalid platform"),
    ({**GOOD, "annotations": {"a": 1}}, "annotations must map strings to strings"),
])  # fmt: skip
def test_a_malformed_descriptor_says_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as failure:
        Descriptor.from_dict(data)
    assert "\n" not in str(failure.value) and len(str(failure.value)) < 400


@settings(max_examples=300, deadline=None)
@given(st.one_of(_json, _mangled))
def test_any_json_is_a_descriptor_or_one_line_refusal(data: object) -> None:
    if (desc := parsed_or_refused(Descriptor.from_dict, data)) is not None:
        assert Descriptor.from_dict(desc.to_dict()).to_dict() == desc.to_dict()


@pytest.mark.parametrize(("data", "message"), [
    (b"<html>502 Bad Gateway</html>", "is not valid JSON"),
    (b"\xff\xfe", "is not valid JSON"),
    (b"[1, 2]", "is a JSON array, not an object"),
    (b'"text"', "is a JSON string, not an object"),
    (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON: maximum recursion depth"),
    (b'{"size": ' + b"9" * 5000 + b"}", "is not valid JSON: Exceeds the limit"),
])  # fmt: skip
def test_registry_json_that_is_not_an_object_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as failure:
        load_json(data, "manifest sha256:x")
    assert str(failure.value).startswith("manifest sha256:x ") and "\n" not in str(failure.value)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), _json.map(lambda value: json.dumps(value).encode())))
def test_any_bytes_load_as_an_object_or_one_line_refusal(data: bytes) -> None:
    document = parsed_or_refused(lambda data: load_json(data, "it"), data)
    assert document is None or isinstance(document, dict)


@pytest.mark.parametrize("layers", [5, None, "a", {"0": GOOD}, [GOOD, 5]])
def test_a_list_of_descriptors_must_be_one(layers: object) -> None:
    with pytest.raises(InvalidArgument, match="manifest m: 'layers' is a JSON|invalid descriptor"):
        descriptors({"layers": layers}, "layers", "manifest m")
    assert descriptors({"layers": [GOOD]}, "layers", "manifest m") == [Descriptor.from_dict(GOOD)]


#: a manifest, index or config with one field replaced by any JSON value
_documents = st.builds(
    lambda kind, key, value: (kind, {**_SHAPES[kind], key: value}),
    st.sampled_from(["index", "manifest", "config"]),
    st.sampled_from(["manifests", "config", "layers", "rootfs", "os", "architecture"]),
    _json,
)
_SHAPES = {
    "index": {"schemaVersion": 2, "manifests": [{**GOOD, "platform": {"os": "linux", "architecture": "amd64"}}]},
    "manifest": {"schemaVersion": 2, "config": GOOD, "layers": [GOOD]},
    "config": {"os": "linux", "architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": [DIGEST]},
               "config": {"Cmd": ["sh"], "Env": ["A=b"], "Labels": {"a": "b"}}},
}  # fmt: skip


@pytest.mark.parametrize("kind", _SHAPES)
def test_a_well_formed_document_checks_out(kind: str) -> None:
    assert check_document(json.dumps(_SHAPES[kind]).encode(), kind, DIGEST) == _SHAPES[kind]


@settings(max_examples=300, deadline=None)
@given(_documents)
def test_any_document_checks_out_or_is_refused_in_one_line(document: tuple[str, dict]) -> None:
    """Whatever a registry puts in a field, the check answers or refuses: a traceback never comes out of it."""
    kind, body = document
    parsed_or_refused(lambda data: check_document(data, kind, DIGEST), json.dumps(body).encode())
