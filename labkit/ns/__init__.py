"""Linux namespaces, one system call at a time: what a runtime does before it execs.

A container is, first of all, a process in a fresh set of namespaces. This package is
in two parts, each one concept:

- :mod:`labkit.ns.calls`: the system calls (``unshare``, ``setns``, ``mount``,
  ``pivot_root``, ...) and the namespaces ``/proc/PID/ns`` shows;
- :mod:`labkit.ns.child`: :func:`spawn` and :func:`run`, which make those calls in a
  child process, so that the caller (a notebook's kernel) never moves.

Use it as one module::

    from labkit import ns
    ns.run(lambda: (ns.sethostname("inside"), socket.gethostname())[1], flags=ns.CLONE_NEWUTS)
"""

from __future__ import annotations

from . import calls, child
from .calls import *  # noqa: F403 — each module's __all__ is this package's surface
from .child import *  # noqa: F403

__all__ = [*calls.__all__, *child.__all__]
