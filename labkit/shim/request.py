"""What a process's parent is asked to do, and what a shim answers on its status pipe.

The request is one value, built in one place (``labkit.task``) and read by every way
of being a process's parent (:mod:`labkit.shim.parents`); for a shim, a separate
process, it travels as JSON on the command line. The shim answers on a pipe with one
JSON object per line — data, never text to parse back::

    {"pid": 1234}                                          the process exists
    {"error": {"kind": "NotFound", "message": "..."}}      it could not be made (labkit.errors.to_data)
    {"exit_status": 7}                                     it has exited; the exit is recorded and published
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Kind", "Network", "Request", "Answer", "encode_answer", "decode_answer"]

#: init: ``runc create`` (start comes later); exec: ``runc exec --detach``; run: ``runc run`` (create and start)
Kind = Literal["init", "exec", "run"]
#: the user-mode networks a parent can connect a process to
Network = Literal["slirp4netns"]
#: one line of a shim's status pipe, decoded
Answer = dict[str, Any]


@dataclass(frozen=True)
class Request:
    """One process to make and supervise.

    ``directory`` holds its records (``pid``, ``exit.json``, ``shim.pid``, logs: :mod:`labkit.shim.records`);
    ``lab_root`` is where the exit is published (the events journal); ``bundle`` is the container's
    bundle (init, run); ``process`` the runtime-spec ``process`` of an exec'd one (config.md, "Process");
    ``network`` names the user-mode network its parent connects an init process to
    (``"slirp4netns"``, :func:`labkit.net.slirp4netns`), for as long as the process lives.
    """

    kind: Kind
    runtime: str
    runtime_root: Path
    container_id: str
    id: str  # the process id: the container id for init, the exec id otherwise
    directory: Path
    lab_root: Path
    bundle: Path | None = None
    process: dict[str, Any] | None = None
    network: Network | None = None

    def to_json(self) -> str:
        """The request as one JSON object (paths as strings)."""
        return json.dumps({key: str(value) if isinstance(value, Path) else value
                           for key, value in asdict(self).items()})

    @classmethod
    def from_json(cls, text: str) -> Request:
        """The request :meth:`to_json` wrote."""
        data = json.loads(text)
        for key in ("runtime_root", "directory", "lab_root", "bundle"):
            if data.get(key) is not None:
                data[key] = Path(data[key])
        return cls(**data)


def encode_answer(**answer: Any) -> bytes:
    """One line of the status pipe: ``encode_answer(pid=1234)`` -> ``b'{"pid": 1234}\\n'``."""
    return (json.dumps(answer) + "\n").encode()


def decode_answer(line: str) -> Answer:
    """A line of the status pipe as data; an empty line (the shim died) is ``{}``."""
    return json.loads(line) if line.strip() else {}
