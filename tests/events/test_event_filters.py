"""containerd's filter syntax: parsing, matching and the errors a learner meets."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parsing import parsed_or_refused

from labkit.errors import InvalidArgument
from labkit.events import Envelope, parse
from labkit.events.filters import Selector

NOW = datetime(2017, 12, 5, 20, 44, 37, 131045, tzinfo=UTC)
EXIT = Envelope(NOW, "default", "/tasks/exit",
                {"container_id": "web", "id": "web", "pid": 42, "exit_status": 137, "exited_at": "x"})
EXEC_EXIT = Envelope(NOW, "default", "/tasks/exit",
                     {"container_id": "web", "id": "probe", "pid": 43, "exit_status": 0, "exited_at": "x"})
START = Envelope(NOW, "default", "/tasks/start", {"container_id": "web", "pid": 42})
CREATE = Envelope(NOW, "lab", "/containers/create",
                  {"id": "db", "image": "lab/busybox:latest", "runtime": {"name": "io.containerd.runc.v2"}})
IMAGE = Envelope(NOW, "default", "/images/create", {"name": "lab/busybox:latest", "labels": {"tier": "base"}})
ALL = [EXIT, EXEC_EXIT, START, CREATE, IMAGE]


def matching(*filters: str) -> list[Envelope]:
    matcher = parse(*filters)
    return [envelope for envelope in ALL if matcher.match(envelope)]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ((), ALL),                                                     # no filter: everything
        (("",), ALL),                                                  # the empty filter: everything
        (('topic=="/tasks/exit"',), [EXIT, EXEC_EXIT]),
        (('topic!="/tasks/exit"',), [START, CREATE, IMAGE]),
        (('topic~="^/tasks/"',), [EXIT, EXEC_EXIT, START]),
        (("topic~=/tasks/",), [EXIT, EXEC_EXIT, START]),               # /regexp/ after ~=
        (("topic~=|^/images/|",), [IMAGE]),                            # |regexp| after ~=
        (('topic~="^/(images|containers)/"',), [CREATE, IMAGE]),
        (("topic~=/^\\/containers\\//",), [CREATE]),                    # \/ inside /regexp/
        (("namespace==lab",), [CREATE]),
        (("namespace!=lab",), [EXIT, EXEC_EXIT, START, IMAGE]),
        (("event.container_id==web",), [EXIT, EXEC_EXIT, START]),
        (("event.container_id",), [EXIT, EXEC_EXIT, START]),           # bare field: present
        (("event.labels",), []),                                       # a map is not a value
        (("event.labels.tier==base",), [IMAGE]),                       # nested field path
        (("event.runtime.name~=runc",), [CREATE]),
        (("event.exit_status==137",), [EXIT]),                         # numbers compare as text
        (("event.id!=web",), [EXEC_EXIT, START, CREATE, IMAGE]),       # != also matches absent
        (("event.missing~=^$",), ALL),                                 # absent = empty string for ~=
        (("event.missing",), []),
        (('topic=="/tasks/exit",event.id==web',), [EXIT]),             # comma: all must match
        (('topic=="/tasks/exit", event.id == web',), [EXIT]),          # blanks between tokens
        (('topic=="/tasks/start"', "namespace==lab"), [START, CREATE]),  # several: any may match
        (('topic=="/tasks/exit",event.id==web', 'topic=="/tasks/start"'), [EXIT, START]),
        (('"topic"=="/tasks/start"',), [START]),                       # a quoted field
        (('event.container_id=="w\\x65b"',), [EXIT, EXEC_EXIT, START]),  # Go escapes in quotes
        (("topic==tasks",), []),
        (("bogus",), []),                                              # unknown fields are absent
        (("event",), []),
    ],
)
def test_filters_select(filters: tuple[str, ...], expected: list[Envelope]) -> None:
    assert matching(*filters) == expected


def test_parse_builds_selectors() -> None:
    (alternative,) = parse('topic=="/tasks/exit",event.id~=/^w/,event.pid').alternatives
    assert alternative == (
        Selector(("topic",), "==", "/tasks/exit"),
        Selector(("event", "id"), "~=", "^w"),
        Selector(("event", "pid"), "?"),
    )


def test_value_may_contain_dots_and_equals() -> None:
    (alternative,) = parse("event.name==lab/busybox:latest,event.key==a=b.c").alternatives
    assert [s.value for s in alternative] == ["lab/busybox:latest", "a=b.c"]


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("topic==/tasks/exit", 7, "must be double-quoted"),
        ('topic=="/tasks/exit', 7, "not terminated"),
        ("topic=/tasks/exit", 5, "unsupported operator '='"),
        ("topic===x", 5, "unsupported operator"),
        ("topic<x", 5, "expected an operator"),
        ("topic==", 7, "expected a value"),
        ("topic==x,", 9, "expected a field"),
        (",topic", 0, "expected a field"),
        ("event..id", 6, "expected a field"),
        ("  ", 2, "expected a field"),
        ("topic~=/(/", 7, "bad regular expression"),
        ('topic=="\\q"', 7, "illegal escape"),
        ("topic==a b", 9, "unexpected input 'b'"),
    ],
)
def test_bad_filters_name_the_position(text: str, position: int, words: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse(text)
    message = str(caught.value)
    assert f"at position {position} " in message
    assert words in message
    assert repr(text) in message


def test_any_bad_filter_among_several_fails() -> None:
    with pytest.raises(InvalidArgument):
        parse('topic=="/tasks/exit"', "topic==/x")


@given(st.text())
def test_any_input_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        parse(text)
    except InvalidArgument as err:
        assert "at position" in str(err)


@given(st.text())
def test_a_double_quoted_value_round_trips(value: str) -> None:
    # JSON's string escapes are a subset of Go's, so json.dumps quotes as containerd expects
    (alternative,) = parse(f"event.name=={json.dumps(value, ensure_ascii=False)}").alternatives
    assert alternative == (Selector(("event", "name"), "==", value),)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.text('topic=!~"/\\,|() ', max_size=60),
                 st.integers(1, 20_000).map(lambda n: 'topic~="' + "(" * n + '"')))
def test_any_filter_text_parses_or_is_refused_in_one_line(text: str) -> None:
    """A filter comes from the command line or a gRPC client: it parses, or says why in one line."""
    parsed_or_refused(parse, text)
