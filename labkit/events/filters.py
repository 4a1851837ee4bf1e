"""containerd's filter syntax, used to subscribe to some events and not others.

A filter string is a comma-separated list of *selectors*, all of which must match;
several filter strings match when any one does; no filter (or ``""``) matches
everything (containerd, ``filters/parser.go``). The grammar::

    selectors := selector ("," selector)*
    selector  := fieldpath (operator value)?      # no operator: the field is present
    fieldpath := field ("." field)*
    field     := quoted | [A-Za-z0-9_]+
    operator  := "==" | "!=" | "~="              # equal, not equal, regular expression
    value     := quoted | [^\\s,]+
    quoted    := a Go string literal in "double quotes" (after ~= also /slashes/ or |bars|)

Because ``/`` opens a quoted regular expression, a value that starts with ``/`` must be
double-quoted: ``topic=="/tasks/exit"``. Fields of an envelope are ``topic``,
``namespace`` and ``event.<payload field>`` (``Envelope.field``).

The matching rules are containerd's (``filters/filter.go``): ``==`` needs the field
present and equal; ``!=`` holds when the field is absent too; ``~=`` searches the
value (an absent field is the empty string). A bad filter is ``InvalidArgument``,
naming the position where parsing stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from ..errors import InvalidArgument

__all__ = ["Selector", "Filter", "Fielded", "parse"]

_FIELD = re.compile(r"[A-Za-z0-9_]+")
_OPERATOR = re.compile(r"[=!~]+")
_VALUE = re.compile(r"[^\s,]+")
_SPACE = re.compile(r"\s*")
# Go string escapes (strconv.Unquote): named, octal, hex, 16- and 32-bit code points.
_ESCAPE = re.compile(r"\\(?:([abfnrtv\\])|([0-7]{3})|x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.S)
_NAMED = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


class Fielded(Protocol):
    """What a filter can match: anything that looks up a field path (containerd's ``Adaptor``)."""

    def field(self, path: list[str]) -> tuple[str, bool]: ...


@dataclass(frozen=True)
class Selector:
    """``fieldpath operator value``; operator ``"?"`` means "the field is present"."""

    fieldpath: tuple[str, ...]
    operator: str
    value: str = ""

    def match(self, target: Fielded) -> bool:
        value, present = target.field(list(self.fieldpath))
        if self.operator == "?":
            return present
        if self.operator == "==":
            return present and value == self.value
        if self.operator == "!=":
            return value != self.value
        return re.search(self.value, value) is not None


@dataclass(frozen=True)
class Filter:
    """Any of several alternatives, each a conjunction of selectors; no alternative = match all."""

    alternatives: tuple[tuple[Selector, ...], ...] = ()

    def match(self, target: Fielded) -> bool:
        return not self.alternatives or any(all(s.match(target) for s in alt) for alt in self.alternatives)


def parse(*filters: str) -> Filter:
    """Parse filter strings into one ``Filter`` that matches when any of them does."""
    return Filter(tuple(_Parser(text).selectors() for text in filters))


class _Parser:
    """A recursive-descent parser over one filter string, tracking the position for errors."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, pos: int | None = None) -> InvalidArgument:
        pos = self.pos if pos is None else pos
        shown = repr(f"{self.text[:pos]} >|{self.text[pos:pos + 1]}|< {self.text[pos + 1:]}")[1:-1]  # one line
        return InvalidArgument(f"bad filter {self.text!r} at position {pos} [{shown}]: {message}")

    def peek(self) -> str:
        """Skip blanks (as containerd's scanner does) and return the next character, or ''."""
        self.pos += len(self.text[self.pos :]) - len(self.text[self.pos :].lstrip())
        return self.text[self.pos : self.pos + 1]

    def selectors(self) -> tuple[Selector, ...]:
        if self.text == "":
            return ()
        found = [self.selector()]
        while (char := self.peek()) == ",":
            self.pos += 1
            found.append(self.selector())
        if char:
            raise self.error(f"unexpected input {char!r}; selectors are separated by ','")
        return tuple(found)

    def selector(self) -> Selector:
        path = [self.field()]
        while self.peek() == ".":
            self.pos += 1
            path.append(self.field())
        if self.peek() in ("", ","):
            return Selector(tuple(path), "?")
        start = self.pos
        operator = _OPERATOR.match(self.text, self.pos)
        if operator is None:
            raise self.error('expected an operator ("==", "!=" or "~=")')
        if operator.group() not in ("==", "!=", "~="):
            raise self.error(f"unsupported operator {operator.group()!r}", start)
        self.pos = operator.end()
        value = self.value(regex=operator.group() == "~=")
        if operator.group() == "~=":
            try:
                re.compile(value)
            except (re.error, RecursionError, OverflowError) as err:  # deep nesting, a repeat count past 2**32
                raise self.error(f"bad regular expression {value[:100]!r}: {err}", start + 2) from None
        return Selector(tuple(path), operator.group(), value)

    def field(self) -> str:
        char = self.peek()
        if char == '"':
            return self.quoted('"')
        match = _FIELD.match(self.text, self.pos)
        if match is None:
            raise self.error("expected a field name or a quoted field")
        self.pos = match.end()
        return match.group()

    def value(self, regex: bool) -> str:
        char = self.peek()
        if char == '"' or (regex and char in ("/", "|")):
            return self.quoted(char)
        if char in ("/", "|"):
            raise self.error(f'a value starting with {char!r} must be double-quoted, e.g. topic=="/tasks/exit"')
        match = _VALUE.match(self.text, self.pos)
        if match is None:
            raise self.error("expected a value or a quoted value")
        self.pos = match.end()
        return match.group()

    def quoted(self, quote: str) -> str:
        """A literal between ``quote`` characters, with Go's backslash escapes."""
        start = self.pos
        end = start + 1
        while end < len(self.text) and self.text[end] != quote:
            end += 2 if self.text[end] == "\\" else 1
        if end >= len(self.text):
            raise self.error(f"quoted literal not terminated (no closing {quote})", start)
        self.pos = end + 1
        return _ESCAPE.sub(lambda m: self.unescape(m, quote, start), self.text[start + 1 : end])

    def unescape(self, match: re.Match[str], quote: str, start: int) -> str:
        named, octal, hex2, hex4, hex8, other = match.groups()
        if named:
            return _NAMED[named]
        if other == quote:
            return quote
        if other is not None:
            raise self.error(f"illegal escape sequence {match.group()!r} in a quoted literal", start)
        code = int(octal, 8) if octal else int(hex2 or hex4 or hex8, 16)
        if code > 0x10FFFF:
            raise self.error(f"escape {match.group()!r} is not a Unicode code point", start)
        return chr(code)
