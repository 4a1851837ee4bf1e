"""labkit.errors: the error tree, and errors as data between processes."""

from __future__ import annotations

import pytest

from labkit import errors
from labkit.errors import KINDS, DataCorrupted, LabkitError, NotFound, from_data, to_data


@pytest.mark.parametrize("kind", KINDS.values())
def test_every_kind_travels_as_data_and_comes_back_the_same(kind: type[LabkitError]) -> None:
    data = to_data(kind("what went wrong"))
    assert data == {"kind": kind.__name__, "message": "what went wrong"}
    back = from_data(data)
    assert type(back) is kind and str(back) == "what went wrong"


def test_an_unknown_kind_becomes_a_plain_labkit_error() -> None:
    back = from_data({"kind": "SomethingNew", "message": "m"})
    assert type(back) is LabkitError and str(back) == "m"


def test_the_table_has_every_kind_in_the_module() -> None:
    declared = {name for name in errors.__all__ if isinstance(getattr(errors, name), type)}
    assert set(KINDS) == declared
    assert issubclass(NotFound, LookupError) and issubclass(DataCorrupted, LabkitError)
