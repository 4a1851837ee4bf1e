"""The namespace picture: drawn from /proc, the same DOT for the same situation, the container's own coloured."""

from __future__ import annotations

import os
import re

import pytest

from labkit import ns
from labkit.diagrams.namespaces import sharing

pytestmark = pytest.mark.root


def test_a_container_points_at_its_own_namespaces_and_shares_the_rest() -> None:
    with ns.spawn(lambda: os.execvp("sleep", ["sleep", "60"]), flags=ns.CLONE_NEWUTS | ns.CLONE_NEWNET) as child:
        source = sharing({"host": os.getpid(), "box": child.pid}).source
        again = sharing({"host": os.getpid(), "box": child.pid}).source
    assert source == again
    assert re.findall(r"p1 -> (\w+)", source) == ["mnt1", "uts2", "ipc1", "pid1", "net2", "user1", "cgroup1"]
    assert _highlighted(source) == {"uts2", "net2"}


def test_one_process_alone_has_nothing_coloured() -> None:
    source = sharing({"me": "self"}, types=("uts", "net")).source
    assert re.findall(r"p0 -> (\w+)", source) == ["uts1", "net1"]
    assert _highlighted(source) == set()


def _highlighted(source: str) -> set[str]:
    """The namespace nodes drawn apart from the plain ones (filled with anything but white): the container's own."""
    return set(re.findall(r'(\w+) \[label="\w+:\[\d+\]" fillcolor="?(?!white)[^" \]]+"? shape=ellipse', source))
