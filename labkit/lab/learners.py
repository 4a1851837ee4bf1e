"""Ordinary users of a shared lab: make one, give it a copy of labkit it can read, run labkit as it.

The rootless tier is what an ordinary user gets (design.md, "Tiers"). To show it from a
root session — a notebook recorded as root, a test, a workshop rehearsal — the lab runs
``python3 -m labkit`` *as* such a user, and everything that process writes lands in the
user's own lab root (``~/.local/share/labkit``, with runc's state under ``runc/`` in it).

The user must be able to read labkit and its dependencies. The project's virtualenv may
live under ``/root`` (unreadable to anyone else) and its interpreter be a link into it, so
:func:`readable_copy` copies labkit and the installed distributions it imports at run time
(found from their own metadata, dependencies included) to a world-readable directory, and
:func:`run_as` starts Debian's ``/usr/bin/python3`` (the same minor version as the
virtualenv's, so compiled modules load) with that directory on ``PYTHONPATH``. A real
workshop server installs labkit in a shared virtualenv instead (docs/workshops.md).
"""

from __future__ import annotations

import importlib.metadata
import os
import pwd
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import FailedPrecondition

__all__ = ["LEARNER", "RUNTIME_DISTRIBUTIONS", "ensure_user", "readable_copy", "command", "run_as"]

#: the system user a root session runs rootless labkit as
LEARNER = "labkit-learner"
#: what ``labkit pull``, ``run``, ``events`` and the supervisor import beyond the standard library
RUNTIME_DISTRIBUTIONS = ("httpx", "zstandard")
_PACKAGE = Path(__file__).resolve().parents[1]


def ensure_user(name: str = LEARNER) -> pwd.struct_passwd:
    """The system user ``name``, created if it does not exist (needs root).

    It gets no home directory: whoever runs labkit as it passes a ``HOME`` of its own
    (:func:`command`), so the user owns nothing on the host but what labkit writes there.
    """
    try:
        return pwd.getpwnam(name)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/bin/sh", name], capture_output=True, text=True)
    try:
        return pwd.getpwnam(name)  # made now, or by someone else at the same moment
    except KeyError:
        raise FailedPrecondition(f"cannot create the user {name}: {made.stderr.strip()}") from None


def _closure(names: Iterable[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``names`` and what they require, extras left out.

    A requirement with another marker (``python_version < "3.11"``) is taken if it is installed:
    copying one module too many is harmless, missing one is not.
    """
    todo, found = [_canonical(n) for n in names], {}
    while todo:
        name = todo.pop()
        if name in found:
            continue
        try:
            found[name] = dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [_canonical(r) for r in dist.requires or [] if "extra" not in r.partition(";")[2]]
    return [found[name] for name in sorted(found)]


def _canonical(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503): ``"httpcore==1.*"`` -> ``"httpcore"``."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    return re.sub(r"[-_.]+", "-", name.group(0) if name else requirement).lower()


def readable_copy(destination: Path, distributions: Iterable[str] = RUNTIME_DISTRIBUTIONS) -> Path:
    """Copy labkit and ``distributions`` (with their dependencies) to ``destination``, readable by all; return it."""
    for dist in _closure(distributions):
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if "__pycache__" not in file.parts and ".." not in file.parts and source.is_file():
                (destination / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination / file)
    shutil.copytree(_PACKAGE, destination / "labkit", ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    subprocess.run(["chmod", "-R", "a+rX", str(destination)], check=True)
    for parent in destination.parents:  # every directory on the way must be searchable
        if not os.stat(parent).st_mode & 0o001:
            raise PermissionError(f"{parent} is not searchable by other users: copy labkit somewhere else")
    return destination


def command(user: str, args: list[str], *, pythonpath: Path, env: Mapping[str, str] | None = None,
            delegated: bool = False) -> list[str]:
    """The argv that runs ``python3 ARGS`` as ``user`` in a clean environment.

    The environment holds only HOME (the user's, so the lab root is ``~/.local/share/labkit``),
    PATH and PYTHONPATH (the readable copy); ``env`` adds to it (``HOME`` for a fresh lab root,
    ``LABKIT_REGISTRY``, ...). With ``delegated`` the process runs in a transient systemd service
    of its own with ``Delegate=yes``: a cgroup v2 subtree that is the user's, as a workshop
    server's spawner gives each attendee (docs/workshops.md).
    """
    account = pwd.getpwnam(user)
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    variables = {"HOME": account.pw_dir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(pythonpath),
                 "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8", **(env or {})}
    if delegated:  # systemd chowns a delegated service's cgroup to its User= (systemd.resource-control(5))
        return ["systemd-run", f"--uid={account.pw_uid}", f"--gid={account.pw_gid}", "--property=Delegate=yes",
                "--wait", "--pipe", "--collect", "--quiet", "--working-directory=/",
                *(f"--setenv={k}={v}" for k, v in variables.items()), python, *args]
    # setpriv (util-linux) changes ids and execs, with no PAM session and no fork in between (unlike runuser):
    # the pid the caller holds is the python process itself, so signals and kills reach it.
    return ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups",
            "env", "-i", *(f"{k}={v}" for k, v in variables.items()), python, *args]


def run_as(user: str, args: list[str], *, pythonpath: Path, env: Mapping[str, str] | None = None,
           timeout: float = 60, delegated: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``labkit ARGS`` as ``user`` (:func:`command`) and wait for it; output is captured as text."""
    argv = command(user, ["-m", "labkit", *args], pythonpath=pythonpath, env=env, delegated=delegated)
    return subprocess.run(argv, capture_output=True, text=True, cwd="/", timeout=timeout)
