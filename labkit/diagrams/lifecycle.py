"""The task lifecycle as a state machine (notebooks 07–09), with the current state lit.

The states are the runtime spec's (runtime.md, "State": created, running, paused,
stopped) plus "no task": a container is only a record until ``create`` makes its task,
and ``delete`` takes it back there. Each edge is a verb the supervisor accepts in that
state — the same table (``labkit.task.TRANSITIONS``) that refuses every other call —
and the dashed edge is what no verb does: the process exiting by itself.
"""

from __future__ import annotations

import graphviz

from ..task import STATUSES, TRANSITIONS
from ._style import COLORS, digraph

__all__ = ["task_states", "NO_TASK", "MOVES"]

#: the state of a container that has no task
NO_TASK = "no task"
#: verb -> the state it leads to (exec starts a second process; the task stays running)
MOVES = {"start": "running", "pause": "paused", "resume": "running", "exec": "running",
         "kill": "stopped", "delete": NO_TASK}


def task_states(current: str | None = None) -> graphviz.Digraph:
    """The lifecycle; ``current`` (a status, or ``NO_TASK``) is filled in and drawn bold."""
    graph = digraph("lifecycle", rankdir="LR")
    for state in (NO_TASK, *STATUSES):
        lit = state == current
        graph.node(state.replace(" ", "_"), state, fillcolor=COLORS["runtime"] if lit else "white",
                   penwidth="2.5" if lit else "1")
    graph.edge("no_task", "created", label="create")
    for verb, sources in TRANSITIONS.items():
        for source in sources:
            graph.edge(source, MOVES[verb].replace(" ", "_"), label=verb)
    graph.edge("running", "stopped", label="exit", style="dashed")
    return graph
