"""The namespace explorer: lists readable processes, and puts a chosen one's namespaces next to the host's."""

from __future__ import annotations

import os

import pytest

from labkit import ns
from labkit.widgets.namespaces import NamespaceExplorer, processes


def test_the_list_holds_this_process() -> None:
    assert os.getpid() in [pid for _label, pid in processes()]


@pytest.mark.root
def test_choosing_a_process_shows_which_namespaces_are_its_own() -> None:
    with ns.spawn(lambda: os.execvp("sleep", ["sleep", "60"]), flags=ns.CLONE_NEWUTS | ns.CLONE_NEWPID) as child:
        explorer = NamespaceExplorer()
        explorer.select(child.pid)  # started after the explorer: the list is refreshed
        own = {entry for entry, _host, _theirs, same in explorer.rows if not same}
        assert own == {"uts", "pid", "pid_for_children"}
        assert "uts:[" in explorer.text() and " own" in explorer.text()
    explorer.select(os.getpid())
    assert all(same for *_, same in explorer.rows)
