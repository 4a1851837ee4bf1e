"""Checks for notebook 14 (rootless containers)."""

from __future__ import annotations

from collections.abc import Callable

from . import hint, passed

__all__ = ["to_host"]

_RUNC = "         0       1000          1\n"  # what /proc shows for runc's rootless map, padding included
_SUBUIDS = "0 1000 1\n1 100000 65536\n"  # root is you, 1.. are your subordinate ids (/etc/subuid, newuidmap)
_HOST = "0 0 4294967295\n"  # the initial user namespace: everyone is themselves


def to_host(function: Callable[[str, int], int | None]) -> bool:
    """14: ``function(uid_map, uid)`` is the host uid that ``uid`` in the namespace maps to, or None if unmapped.

    ``uid_map`` is the text of ``/proc/PID/uid_map``: one ``inside outside count`` range per line
    (user_namespaces(7), "User and group ID mappings").
    """
    cases = [
        (_RUNC, 0, 1000, "root inside runc's rootless map is the caller: 1000"),
        (_HOST, 1234, 1234, "in the host's own map every id is itself"),
        (_RUNC, 1, None, "a range covers inside .. inside+count-1: with count 1 only uid 0 is mapped, so uid 1 "
                         "is unmapped (return None)"),
        (_SUBUIDS, 1, 100000, "the second line maps 1 to 100000: read every line, not only the first"),
        (_SUBUIDS, 65536, 165535, "a range covers inside .. inside+count-1: 65536 is the last id of the second line"),
        (_SUBUIDS, 65537, None, "65537 is in no range: it is unmapped, return None (the kernel shows 65534, 'nobody')"),
    ]
    for uid_map, uid, expected, why in cases:
        try:
            got = function(uid_map, uid)
        except Exception as err:  # a learner's function may fail in any way: say how, and on what
            return hint(f"to_host({uid_map!r}, {uid}) raised {type(err).__name__}: {err}")
        if got != expected:
            return hint(f"to_host({uid_map!r}, {uid}) gave {got!r}, expected {expected!r}: {why}")
    return passed("ids translate through every range of a map, and an id in none of them is unmapped")
