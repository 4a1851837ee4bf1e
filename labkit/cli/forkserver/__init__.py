"""The fork server: a resident ``labkit``, warm, that forks a copy of itself to run each command.

Every ``labkit`` command is a new Python process, and a Python process pays for itself before
it does any work: the interpreter starts (~10 ms), then imports labkit and what it uses —
argparse, json, pathlib, subprocess, httpx — 40 to 70 ms more, on every command. ``ctr`` pays
almost none of that: it is a small Go client, and the work is done by containerd, a daemon
started once. labkit does the same with the technique of Python's own ``multiprocessing``
"forkserver" (and of Android's zygote): ``labkit lab up`` starts this server, which imports
everything once and waits on a unix socket, ``<lab root>/forkserver.sock``. The ``labkit``
command connects and hands over what makes it *that* command — its arguments, environment,
working directory, umask, and its stdin, stdout and stderr themselves — and the server forks
a child that becomes the command: it takes those descriptors as its own 0, 1 and 2 and runs
``labkit.cli.main(argv)``, as the command would have run it, already warm. A container's
output goes straight to the caller's terminal, and the caller exits with the child's status.

The conversation, on a ``SOCK_SEQPACKET`` connection (one message per ``send``, unix(7))::

    client                                              server's child
    request: NUL-terminated fields, fds 0 1 2   ──>     (SCM_RIGHTS passes the descriptors)
                                                <──     "started"
    "signal N" for each SIGINT, SIGTERM, SIGHUP ──>     raises signal N in itself
                                                <──     "exit N", once the command is done

A connection closed before "started" means the command did not run and the client must run it
itself (the server is another checkout's, or is restarting); after "started" it never does, so
that no command runs twice.

A request's fields are laid out as the kernel lays out ``/proc/PID/cmdline`` and ``environ``:
the server's identity as the client knows it (its Python prefix and this file's path: a
server of another checkout does not run the command), the working directory, the umask, the
number of arguments, the arguments, then ``NAME=VALUE`` for each environment variable.

The server never runs stale code: as each client comes, it checks the modification times of
the labkit source files it has imported, and when one has changed it closes the connection
unanswered and replaces itself (``exec``) with a fresh server. A client that finds no server,
or gets no "started", runs the command itself — slower, never different. The socket is
``0600``: only its owner may connect, so a command runs with the rights of the user who typed
it. A child whose client goes away (killed, its terminal closed) gets ``SIGHUP``, as a process
whose terminal hangs up does.

This package holds the conversation's shared pieces, the client (``forward``) and the server's
life (``start``, ``stop``, ``status``); the server itself is ``_server``. Every ``labkit``
command imports this module, so it imports at the top only what the interpreter has already
loaded, plus ``_socket`` and ``_signal``, the C modules behind ``socket`` and ``signal``: the
public modules import ``enum`` and ``selectors`` (~10 ms more).
"""

from __future__ import annotations

import _signal
import _socket
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~9 ms); type checkers read it as True
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["SOCKET", "IN_PROCESS", "split_root", "forward", "identity", "receive", "start", "stop", "status"]

#: the server's socket, pid file and log, in the lab root
SOCKET, PID_FILE, LOG = "forkserver.sock", "forkserver.pid", "forkserver.log"
#: commands that always run in their own process: ``lab`` starts and stops this server, ``serve``
#: runs gRPC's threads (a process with threads must not be the one that forks)
IN_PROCESS = frozenset({"lab", "serve"})
#: the signals a client passes on (Ctrl-C, ``kill``, a terminal hanging up)
_FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
STDIO = (0, 1, 2)
MAX_MESSAGE = 1 << 20  # bytes: a request carries the whole environment


def identity() -> list[str]:
    """Who the server must be to run a client's command: the same Python and the same labkit files."""
    return [sys.prefix, __file__]


def split_root(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--root DIR`` (the one global option, so first) and the arguments after it, read without argparse."""
    if argv[:1] == ["--root"] and len(argv) > 1:
        return argv[1], argv[2:]
    if argv[:1] and argv[0].startswith("--root="):
        return argv[0].removeprefix("--root="), argv[1:]
    return None, argv


# --- the client: what the ``labkit`` command does -------------------------------------------------------------------


def forward(argv: list[str]) -> int | None:
    """Run this command in the lab's fork server; its exit status, or ``None`` when it must run here.

    ``None`` when no server listens for this lab root, or it does not start the command (it is
    another checkout's, or its code is stale), or the command is one that runs in its own process
    (``IN_PROCESS``).
    """
    from ...paths import lab_root

    root, rest = split_root(argv)
    if rest[:1] and rest[0] in IN_PROCESS:
        return None
    umask = os.umask(0)
    os.umask(umask)
    fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in STDIO)  # an array of C ints
    connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        fields = [*identity(), os.getcwd(), str(umask), str(len(argv)), *argv,
                  *(f"{name}={value}" for name, value in os.environ.items())]
        request = b"".join(os.fsencode(field) + b"\0" for field in fields)
        connection.connect(os.path.join(root or lab_root(), SOCKET))
        connection.sendmsg([request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    except OSError:  # no server, not ours to use, or no working directory to hand over: run the command here
        connection.close()
        return None
    try:
        return _await_exit(connection)
    finally:
        connection.close()


def _await_exit(connection: _socket.socket) -> int | None:
    """Pass our signals on until the child reports its exit; ``None`` if it never started the command."""
    received: list[int] = []

    def pass_on(signum: int, _frame: object) -> None:
        received.append(signum)
        try:
            connection.send(f"signal {signum}".encode())
        except OSError:  # the child is gone: see below
            pass

    previous = {signum: _signal.signal(signum, pass_on) for signum in _FORWARDED}
    started = False
    try:
        while message := receive(connection):
            verb, _, value = message.partition(" ")
            if verb == "exit":
                return int(value)
            started = started or verb == "started"
    finally:
        for signum, handler in previous.items():
            _signal.signal(signum, handler)
    if received:  # the command ended (or never began) with the signal we were sent: end with it too, as a shell expects
        _signal.signal(received[-1], _signal.SIG_DFL)
        os.kill(os.getpid(), received[-1])
    if not started:
        return None
    print("labkit: the fork server's child for this command ended without an exit status", file=sys.stderr)
    return 1


def receive(connection: _socket.socket) -> str:
    """The next message; ``""`` once the other side has closed the connection (or reset it, closing unread)."""
    try:
        return connection.recv(MAX_MESSAGE).decode()
    except ConnectionResetError:
        return ""


# --- its life: started by ``labkit lab up``, stopped by ``labkit lab down`` ------------------------------------------


def status(root: Path) -> int | None:
    """The pid of this lab root's fork server, if it runs."""
    from ...lab.daemon import pid

    return pid(root / PID_FILE, __name__)


def start(root: Path) -> int:
    """(Re)start this lab root's fork server, with this checkout's code; wait until it accepts; its pid."""
    from ...lab.daemon import start as start_daemon
    from ._server import argv

    stop(root)
    path = root / SOCKET

    def accepting() -> bool:
        probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        try:
            return probe.connect_ex(str(path)) == 0
        finally:
            probe.close()

    return start_daemon(argv(str(path)), root / PID_FILE, root / LOG, ready=accepting)


def stop(root: Path) -> None:
    """Stop this lab root's fork server, if it runs; commands in flight finish on their own."""
    from ...lab.daemon import stop as stop_daemon

    stop_daemon(root / PID_FILE, __name__)
    (root / SOCKET).unlink(missing_ok=True)

