"""Identifiers: the one rule for the names of containers, exec'd processes and event topics' parts.

containerd checks every identifier a client gives it with one function
(``identifiers/validate.go``, ``Validate``): letters and digits, joined by single
``.``, ``_`` or ``-``, at most 76 characters. A name that passes is safe as a path
component and as a cgroup name, which is why labkit uses it for both.
"""

from __future__ import annotations

import re

from .errors import InvalidArgument

__all__ = ["MAX_LENGTH", "is_valid", "validate"]

#: containerd's limit on an identifier's length (identifiers/validate.go: maxLength)
MAX_LENGTH = 76
_IDENTIFIER = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")


def is_valid(name: str) -> bool:
    """Whether ``name`` is an identifier in containerd's sense."""
    return len(name) <= MAX_LENGTH and _IDENTIFIER.fullmatch(name) is not None


def validate(name: str, what: str = "container id") -> str:
    """Return ``name`` if it is an identifier; else ``InvalidArgument`` naming ``what`` it was meant to be."""
    if not is_valid(name):
        raise InvalidArgument(f"{what} {name!r} must be letters and digits, joined by '.', '_' or '-' "
                              f"(at most {MAX_LENGTH})")
    return name
