"""The shim process: ``python -m labkit.shim REQUEST_JSON STATUS_FD``.

It forks once more so that its launcher's ``wait()`` returns at once and the shim is
re-parented to init (the double fork of a daemon), becomes a child subreaper, runs
``runc create`` or ``runc exec --detach`` with the container's stdio, connects the process's
user-mode network if its request names one (:func:`labkit.net.slirp4netns`), and answers on the
status pipe (:mod:`labkit.shim.request`). Then it reaps children until its process is
among them, records and publishes the exit (:func:`labkit.shim.records.record_exit`), and
reports the status to its launcher if that one still listens.
"""

from __future__ import annotations

import os
import sys
import traceback

from ..errors import LabkitError, to_data
from ..events import Exchange
from .parents import connect, disconnect, start_process
from .records import UNKNOWN_STATUS, become_subreaper, claim, exit_status, record_exit
from .request import Request, encode_answer


def _reap(pid: int) -> int:
    """Reap children (the runtime re-parents its processes to us) until ``pid`` is among them."""
    while True:
        try:
            child, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return UNKNOWN_STATUS
        if child == pid:
            return exit_status(status)


def serve(request: Request, status_fd: int) -> None:
    """Make the process, say its pid (or the error), reap it, record its exit, say its status."""
    try:
        claim(request.directory)
        become_subreaper()
        pid = start_process(request)
        network = connect(request, pid)  # before the pid is told: a started task has its network
    except LabkitError as err:
        os.write(status_fd, encode_answer(error=to_data(err)))
        return
    os.write(status_fd, encode_answer(pid=pid))
    null = os.open(os.devnull, os.O_RDWR)  # the process keeps its stdio; we let go of ours
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    status = _reap(pid)
    disconnect(network)
    status = record_exit(request, pid, status, Exchange(request.lab_root))
    try:
        os.write(status_fd, encode_answer(exit_status=status))
    except BrokenPipeError:  # the launcher has gone (``labkit run -d``): the journal has the exit
        pass


def main(argv: list[str]) -> int:
    """The shim's entry point; returns the exit status of the process that runs it."""
    request, status_fd = Request.from_json(argv[0]), int(argv[1])
    if os.fork():  # double fork: the launcher's wait() returns now, the shim is re-parented to init
        return 0
    try:
        serve(request, status_fd)
    except BaseException:  # our stderr is the container's or /dev/null: leave the story in the directory
        (request.directory / "shim.log").write_text(traceback.format_exc())
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
