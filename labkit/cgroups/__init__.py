"""Control groups: how much memory, how many processes and how much CPU a container gets.

Namespaces decide what a process can *see*; cgroups decide how much it can *use*
(man 7 cgroups). A cgroup is a directory in a special file system: ``mkdir`` creates
one, writing a pid to its ``cgroup.procs`` moves a process in (its future children
follow), writing to its files sets limits, reading them gives usage, ``rmdir``
removes it once it is empty. There are two versions, and hosts differ:

- **v1**: one hierarchy per controller, ``/sys/fs/cgroup/<controller>/...``; the
  group exists once in each (``memory/labkit/demo``, ``pids/labkit/demo``, ...).
- **v2**: one unified tree, ``/sys/fs/cgroup/...``; a parent enables controllers for
  its children in ``cgroup.subtree_control``.

The lab's groups live under ``labkit/`` (``labkit.paths.CGROUP_PARENT``), as runc's do
with ``linux.cgroupsPath = "/labkit/<id>"`` (OCI runtime spec, config-linux.md:
Control groups), so that ``labkit lab clean`` finds them. The file names below are
the kernel's (Documentation/admin-guide/cgroup-v1/*.rst and cgroup-v2.rst).

Who may make them: root anywhere. An ordinary user only inside a subtree that was
*delegated* to it (cgroup-v2.rst, "Delegation"; systemd's ``Delegate=yes``, as
``user@UID.service`` and ``systemd-run --user --scope -p Delegate=yes`` give): the
directory and its ``cgroup.procs`` are the user's own. On v2 the lab's parent is then
``<that subtree>/labkit`` (:func:`parent`); on v1 nothing is ever delegated.

The package has two parts: :mod:`._tree` — the host's layout (v1, hybrid, v2), what is
delegated to an ordinary user, and where the lab's groups live; :mod:`._group` — one group:
make it, move processes in, set limits, read its files, remove it.
"""

from __future__ import annotations

from . import _group, _tree
from ._group import *  # noqa: F403 — each module's __all__ is this package's surface
from ._tree import *  # noqa: F403

__all__ = [*_tree.__all__, *_group.__all__]
