"""The lifecycle panel: buttons greyed out by the task's state, presses that do and refuse, the lit picture."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_supervisor import remove_all
from waiting import wait_until

from labkit import images
from labkit.diagrams.lifecycle import task_states
from labkit.supervisor import Supervisor
from labkit.widgets.lifecycle import VERBS, LifecyclePanel

pytestmark = [pytest.mark.root, pytest.mark.registry, pytest.mark.tool("runc")]


def test_the_panel_follows_the_state_machine(lab_root: Path, registry: str) -> None:
    images.pull(f"{registry}/lab/busybox:latest", plain_http=True)
    container = Supervisor().create_container("panel-t", f"{registry}/lab/busybox:latest", ["sleep", "60"])
    panel = LifecyclePanel(container, exec_args=["echo", "hi"])
    try:
        enabled = lambda: [b.description for b in panel.buttons.values() if not b.disabled]  # noqa: E731
        assert (repr(panel), enabled()) == ("LifecyclePanel(panel-t: no task)", ["create"])
        assert panel.press("create").startswith("created: pid")
        assert enabled() == ["start", "kill"] == panel.allowed()
        assert panel.picture.value == task_states("created").pipe(format="svg").decode()  # created, lit
        assert panel.press("start") == "start: ok"
        assert panel.press("start") == "✘ cannot start panel-t: it is running (start needs created)"
        assert panel.press("exec") == "exec echo hi → exit 0\nhi\n"
        assert panel.press("pause") == "pause: ok" and enabled() == ["resume", "kill"]
        assert panel.press("resume") == "resume: ok"
        panel.signal.value = "SIGKILL"
        assert panel.press("kill") == "sent SIGKILL"
        wait_until(lambda: enabled() == ["delete"], 5, "the event thread never redrew for the exit")
        assert panel.press("delete") == "deleted: exit status 137"
        assert set(enabled()) == {"create"} and len(VERBS) == 7
        topics = [e.topic for e in panel.events.envelopes]
        assert topics[:2] == ["/tasks/create", "/tasks/start"] and topics[-2:] == ["/tasks/exit", "/tasks/delete"]
    finally:
        panel.stop()
        remove_all(container.supervisor)
