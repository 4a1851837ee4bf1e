"""What this test run made on the host, so that the leftovers check looks at this run only.

Several test runs may share a machine (a developer's, CI's, a notebook's). The lab names
what it makes outside a lab root (``labkit.paths``: cgroups under ``labkit/``, netns
``labkit-*``, veths ``lk*``), but those names do not say which run made them. So the run
keeps a ledger: at its start (``tests/conftest.py``, ``pytest_sessionstart``) it notes what
is already there and how long the default root's journal is; at its end an object is this
run's if it appeared meanwhile and no other run claims it — a cgroup named after a container
journals: every lab root a test makes is under this run's temporary directory, and what this
run did in the default root (notebooks) is in that journal after the noted length. What a test
makes directly — a cgroup with ``labkit.cgroups.create``, a netns, a veth with ``labkit.net`` —
the run records as it is made (``record``, installed by tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from labkit.paths import CGROUP_PARENT, NETNS_PREFIX, VETH_PREFIX, default_root

__all__ = ["LEDGER", "Ledger", "cgroups", "container_ids", "links", "netns", "start"]

CGROUP_MOUNT = Path("/sys/fs/cgroup")


def cgroups() -> set[str]:
    """The names of the cgroups under ``labkit/`` in every hierarchy (v1) or the v2 tree."""
    parents = [*CGROUP_MOUNT.glob(f"*/{CGROUP_PARENT}"), CGROUP_MOUNT / CGROUP_PARENT]
    return {group.name for parent in parents if parent.is_dir() for group in parent.iterdir() if group.is_dir()}


def netns() -> set[str]:
    directory = Path("/run/netns")
    return {ns.name for ns in directory.glob(f"{NETNS_PREFIX}*")} if directory.is_dir() else set()


def links() -> set[str]:
    listing = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines()
    names = {line.split(":")[1].strip().split("@")[0] for line in listing if ":" in line}
    return {name for name in names if name.startswith(VETH_PREFIX)}


def container_ids(journal: Path, offset: int = 0) -> set[str]:
    """The ids of the containers created in a journal (after byte ``offset``)."""
    try:
        with journal.open("rb") as file:
            file.seek(offset)
            lines = file.read().splitlines()
    except OSError:
        return set()
    ids = set()
    for line in lines:
        try:
            envelope = json.loads(line)
        except ValueError:
            continue
        if envelope.get("topic") == "/containers/create":
            ids.add(envelope["event"]["id"])
    return ids


@dataclass
class Ledger:
    """What was there when the run began."""

    default_journal_offset: int = 0
    #: what tests made directly, by kind ("cgroup", "netns", "veth")
    made: dict[str, set[str]] = field(default_factory=lambda: {"cgroup": set(), "netns": set(), "veth": set()})

    def record(self, kind: str, name: str) -> None:
        """Note that this run made ``name`` (a cgroup, netns or veth)."""
        self.made[kind].add(name)

    def ours(self, basetemp: Path) -> set[str]:
        """The container ids this run created: in its own lab roots, and in the default root since it began."""
        ids = set().union(*(container_ids(journal) for journal in basetemp.rglob("events.jsonl")))
        return ids | container_ids(default_root() / "events.jsonl", self.default_journal_offset)

    def left(self, basetemp: Path) -> dict[str, set[str]]:
        """What of this run's is still there, by kind."""
        containers = self.ours(basetemp)
        named = containers | {f"containerd-{name}" for name in containers} | self.made["cgroup"]
        return {"cgroup": cgroups() & named, "netns": netns() & self.made["netns"],
                "veth": links() & self.made["veth"]}


#: filled by tests/conftest.py when the session starts
LEDGER = Ledger()


def start() -> None:
    """Note where the default root's journal ends before the run makes anything."""
    journal = default_root() / "events.jsonl"
    LEDGER.default_journal_offset = journal.stat().st_size if journal.exists() else 0
