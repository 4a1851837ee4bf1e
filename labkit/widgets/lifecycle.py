"""The lifecycle panel: drive one container's task with buttons and watch the state machine.

One button per verb (create, start, pause, resume, exec, kill, delete); the buttons the
current state forbids are greyed out, using the supervisor's own table
(``labkit.task.TRANSITIONS``), and the state machine of ``labkit.diagrams.lifecycle``
is redrawn with the current state lit. Below it, the event log of ``labkit.widgets.eventlog``
shows what each press published. A background thread follows the container's events,
so a task that exits by itself — or is paused from a terminal — is redrawn too; it
only assigns widget traits (CONTRIBUTING.md, "Pictures and widgets").

A notebook can press the buttons from code with :meth:`LifecyclePanel.press`.
"""

from __future__ import annotations

import signal
import threading

import ipywidgets as widgets

from ..diagrams.lifecycle import NO_TASK, task_states
from ..errors import LabkitError, NotFound
from ..supervisor import Container
from ..task import TRANSITIONS, Task
from .eventlog import EventLog

__all__ = ["LifecyclePanel", "VERBS", "ALLOWED"]

VERBS = ("create", "start", "pause", "resume", "exec", "kill", "delete")
#: verb -> the states it is allowed in: the supervisor's table, plus create (needs no task)
ALLOWED = {**TRANSITIONS, "create": (NO_TASK,)}


class LifecyclePanel(widgets.VBox):
    """Buttons, the lit state machine, a message line and the container's event log."""

    def __init__(self, container: Container, exec_args: list[str] | None = None) -> None:
        self.container = container
        self.exec_args = exec_args or ["ps"]
        self._execs = 0
        sup = container.supervisor
        filters = (f"event.container_id=={container.id}", f"event.id=={container.id}", f"event.key=={container.id}")
        self.events = EventLog(sup.subscribe(*filters))
        #: one button per verb; a button the state forbids is disabled
        self.buttons = {verb: widgets.Button(description=verb) for verb in VERBS}
        for verb, button in self.buttons.items():
            button.on_click(lambda _button, verb=verb: self.press(verb))
        #: the signal ``kill`` sends
        self.signal = widgets.Dropdown(options=["SIGTERM", "SIGKILL"], value="SIGTERM", layout={"width": "110px"})
        #: the state machine (:func:`labkit.diagrams.lifecycle.task_states`) with the current state lit, as SVG
        self.picture = widgets.HTML()
        self._message = widgets.HTML()
        self._watch = sup.subscribe(*filters)
        super().__init__([widgets.HBox([*self.buttons.values(), self.signal]), self.picture, self._message,
                          self.events])
        self._refresh()
        self._thread = threading.Thread(target=self._follow, name="labkit-lifecycle", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"LifecyclePanel({self.container.id}: {self.state})"

    @property
    def state(self) -> str:
        """The task's status, or ``no task``."""
        try:
            return self.container.task().status()
        except NotFound:
            return NO_TASK

    def allowed(self) -> list[str]:
        """The verbs the current state allows (the buttons that are not greyed out)."""
        state = self.state
        return [verb for verb in VERBS if state in ALLOWED[verb]]

    def press(self, verb: str) -> str:
        """Do what the button ``verb`` does; return the message line (an error is shown, not raised)."""
        try:
            message = self._do(verb)
        except LabkitError as err:
            message = f"✘ {err}"
        self._message.value = f"<code>{message}</code>"
        self._refresh()
        return message

    def _do(self, verb: str) -> str:
        if verb == "create":
            return f"created: pid {self.container.new_task().pid} waits on exec.fifo"
        task: Task = self.container.task()
        if verb == "exec":
            self._execs += 1
            process = task.exec(f"panel-{self._execs}", self.exec_args)
            process.start()
            status = process.wait()
            output = (process.dir / "stdout").read_text()
            process.delete()
            return f"exec {' '.join(self.exec_args)} → exit {status}\n{output}"
        if verb == "kill":
            task.kill(signal.Signals[self.signal.value])
            return f"sent {self.signal.value}"
        if verb == "delete":
            return f"deleted: exit status {task.delete()['exit_status']}"
        getattr(task, verb)()
        return f"{verb}: ok"

    def _refresh(self) -> None:
        state, allowed = self.state, self.allowed()
        for verb, button in self.buttons.items():
            button.disabled = verb not in allowed
        self.picture.value = task_states(state).pipe(format="svg").decode()

    def _follow(self) -> None:
        for _envelope in self._watch:  # ends when stop() closes the subscription
            self._refresh()

    def stop(self) -> None:
        """Stop following events (the event log too)."""
        self._watch.close()
        self._thread.join(timeout=5)
        self.events.stop()
