"""The shim: the parent that collects a container process's exit status, and the records it keeps.

containerd runs one ``containerd-shim-runc-v2`` per container so that a task outlives
the client that started it and its exit status is still collected. labkit does the same::

    supervisor ──launch()──> shim (detached: own session, double fork, subreaper)
                               ├─ runc create / runc exec --detach   (stdio: the task's files)
                               ├─ {"pid": N}          ──status pipe──> supervisor
                               ├─ waitpid(-1) until N is reaped
                               ├─ publish /tasks/exit (exactly once), then <dir>/exit.json
                               └─ {"exit_status": S}  ──status pipe──> supervisor (if it still listens)

- ``request``:  what a process's parent is asked to do (``Request``), and the pipe's answers;
- ``records``:  the process's records (pid, exit.json, shim.pid, the milestone lock);
- ``parents``:  the ways to be its parent, behind one interface (``Parent``: pid, wait, kill);
- ``__main__``: the shim process itself, ``python -m labkit.shim``.
"""

from __future__ import annotations

from . import parents, records, request
from .parents import *  # noqa: F403 — each module's __all__ is this package's surface
from .records import *  # noqa: F403
from .request import *  # noqa: F403

__all__ = [*request.__all__, *records.__all__, *parents.__all__]
