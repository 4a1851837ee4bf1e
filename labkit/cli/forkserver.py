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
server of another checkout does not run the command), the working directory, the umask, the number of
arguments, the arguments, then ``NAME=VALUE`` for each environment variable.

The server never runs stale code: as each client comes, it checks the modification times of
the labkit source files it has imported, and when one has changed it closes the connection
unanswered and replaces itself (``exec``) with a fresh server. A client that finds no server, or
gets no "started", runs the command itself — slower, never different. The socket is ``0600``: only its owner may connect, so a
command runs with the rights of the user who typed it. A child whose client goes away (killed,
its terminal closed) gets ``SIGHUP``, as a process whose terminal hangs up does.

This module is imported by every ``labkit`` command, so it imports at the top only what the
interpreter has already loaded, plus ``_socket`` and ``_signal``, the C modules behind
``socket`` and ``signal``: the public modules import ``enum`` and ``selectors`` (~10 ms more).
"""

from __future__ import annotations

import _signal
import _socket
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~9 ms); type checkers read it as True
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["SOCKET", "split_root", "forward", "serve", "start", "stop", "status"]

#: the server's socket, pid file and log, in the lab root
SOCKET, PID_FILE, LOG = "forkserver.sock", "forkserver.pid", "forkserver.log"
#: commands that always run in their own process: ``lab`` starts and stops this server, ``serve``
#: runs gRPC's threads (a process with threads must not be the one that forks)
IN_PROCESS = frozenset({"lab", "serve"})
#: the signals a client passes on (Ctrl-C, ``kill``, a terminal hanging up)
_FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
_STDIO = (0, 1, 2)
_MAX_MESSAGE = 1 << 20  # bytes: a request carries the whole environment
_MADV_POPULATE_WRITE = 23  # <linux/mman.h>


def _identity() -> list[str]:
    """Who the server must be to run this client's command: the same Python and the same labkit files."""
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
    from ..paths import lab_root

    root, rest = split_root(argv)
    if rest[:1] and rest[0] in IN_PROCESS:
        return None
    umask = os.umask(0)
    os.umask(umask)
    fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in _STDIO)  # an array of C ints
    connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        fields = [*_identity(), os.getcwd(), str(umask), str(len(argv)), *argv,
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
        while message := _receive(connection):
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


def _receive(connection: _socket.socket) -> str:
    """The next message; ``""`` once the other side has closed the connection (or reset it, closing unread)."""
    try:
        return connection.recv(_MAX_MESSAGE).decode()
    except ConnectionResetError:
        return ""


# --- the server ------------------------------------------------------------------------------------------------------


def _sources() -> list[str]:
    """The source files of the labkit modules the server has imported: the code a child would run stale."""
    return [module.__file__ for name, module in sys.modules.items()
            if name.partition(".")[0] == "labkit" and getattr(module, "__file__", None)]


def _stamp(sources: list[str]) -> int:
    """The newest modification time among ``sources`` (-1 if one has gone): when it changes, our code is stale."""
    try:
        return max(os.stat(path).st_mtime_ns for path in sources)
    except FileNotFoundError:
        return -1


def _warm() -> None:
    """Import what the commands use, and build their parsers, once, so that no child pays for it."""
    import importlib

    from . import COMMANDS, build_parser

    for command in [*COMMANDS.keys() - IN_PROCESS, None]:  # None: every command's, for --help
        build_parser(command)
    for module in ("labkit.supervisor", "labkit.images", "labkit.remotes", "labkit.metrics", "labkit.events"):
        importlib.import_module(module)


def serve(path: str) -> None:
    """Listen on ``path`` and run each client's command in a child, until killed. Never returns.

    The child is forked *before* its client comes (a spare, waiting in ``accept``), so that no
    command waits for a fork. The spare tells the server through a pipe when it has taken a
    client — the server then forks the next spare — or found labkit's files changed. A
    *lifeline* pipe, whose write end only the server holds, turns readable in the spare
    when the server has gone (stopped, killed or replaced), so that no spare outlives it.
    """
    import gc
    import socket
    import time

    gc.disable()  # as the gc module's docs advise for a process that forks without exec: no holes,
    _warm()
    gc.freeze()  # and no collection in a child touches (so copies) the pages of what was imported here
    sources = _sources()
    stamp = _stamp(sources)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if os.path.exists(path):
        os.unlink(path)
    os.umask(0o077)  # the socket is its owner's alone
    listener.bind(path)
    listener.listen(64)
    lifeline, lifeline_held = os.pipe()
    _signal.signal(_signal.SIGCHLD, _reap)
    _reap(_signal.SIGCHLD, None)  # children of the server this one replaced (exec) may have ended meanwhile
    while True:
        news, told = os.pipe()
        if os.fork() == 0:
            try:
                os.close(news)
                os.close(lifeline_held)
                os._exit(_spare(listener, lifeline, told, lambda: _stamp(sources) != stamp))
            finally:  # an exception (its traceback goes to the log): never return into the server's loop
                os._exit(1)
        os.close(told)
        what = os.read(news, 1)  # b"c": it has a client; b"s": labkit's files changed; b"": it died
        os.close(news)
        if what == b"s":
            listener.close()
            os.execv(sys.executable, _server_argv(path))
        if what == b"":  # a bug killed it before any client came: do not fork in a tight loop
            time.sleep(1)


def _spare(listener: socket.socket, lifeline: int, told: int, stale: Callable[[], bool]) -> int:
    """Wait for the next client (or the server's end); tell the server; become the client's command."""
    import gc
    import select

    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)  # the child waits for its own children (runc)
    gc.enable()
    _prefault()
    if lifeline in select.select([listener, lifeline], [], [])[0]:
        return 0  # the server has gone
    connection, _ = listener.accept()
    listener.close()
    os.close(lifeline)
    if stale():  # the client runs the command itself; the server replaces itself
        os.write(told, b"s")
        return 0
    os.write(told, b"c")
    os.close(told)
    return _child(connection)


def _reap(_signum: int, _frame: object) -> None:
    """SIGCHLD: collect every child that has finished, so that none lingers as a zombie."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _server_argv(path: str) -> list[str]:
    """The server's command line (``python -m`` would import this module twice: as itself and as ``__main__``)."""
    return [sys.executable, "-c", f"import {__name__}; {__name__}.serve({path!r})"]


def _prefault() -> None:
    """Give this process its own copy of every writable page it shares with the server, now, while idle.

    After fork(2) parent and child share their memory until one writes to a page; the first
    write copies it (a copy-on-write fault). A command writes to about a thousand of them —
    Python updates reference counts in every object it touches — so the spare takes its
    copies before a client comes: madvise(2) ``MADV_POPULATE_WRITE`` (Linux 5.14) on each
    private writable mapping of ``/proc/self/maps``.
    """
    import ctypes

    madvise = ctypes.CDLL(None, use_errno=True).madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    with open("/proc/self/maps") as maps:
        for line in maps:
            addresses, permissions, *rest = line.split()
            if permissions.startswith("rw") and permissions.endswith("p") and rest[-1:] != ["[vvar]"]:
                start, end = (int(address, 16) for address in addresses.split("-"))
                madvise(start, end - start, _MADV_POPULATE_WRITE)  # an older kernel says EINVAL: no harm


def _child(connection: socket.socket) -> int:
    """Become the client's command: take its descriptors, environment and directory, run it, report the exit."""
    message, ancillary, flags, _ = connection.recvmsg(_MAX_MESSAGE, _socket.CMSG_SPACE(4 * len(_STDIO)))
    fds = [int.from_bytes(data[i:i + 4], sys.byteorder) for level, kind, data in ancillary
           if (level, kind) == (_socket.SOL_SOCKET, _socket.SCM_RIGHTS) for i in range(0, len(data), 4)]
    if not message:  # a client that connected and left (``start`` probing whether we accept)
        return 0
    fields = [os.fsdecode(field) for field in message.split(b"\0")[:-1]]
    if fields[:2] != _identity() or len(fds) != len(_STDIO) or flags & (_socket.MSG_TRUNC | _socket.MSG_CTRUNC):
        return 0  # another checkout's client, or a garbled request: the client runs the command itself
    cwd, umask, argc = fields[2], int(fields[3]), int(fields[4])
    argv, environment = fields[5:5 + argc], fields[5 + argc:]
    for target, fd in zip(_STDIO, fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin, sys.stdout = open(0, closefd=False), open(1, "w", closefd=False)
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)
    os.chdir(cwd)
    os.umask(umask)
    wanted = dict(name_value.split("=", 1) for name_value in environment)
    for name in os.environ.keys() - wanted.keys():  # os.environ.clear() would unset each one the slow way
        del os.environ[name]
    os.environ.update((name, value) for name, value in wanted.items() if os.environ.get(name) != value)
    _hang_up_with(connection)
    connection.send(b"started")
    status = _run(argv)
    try:
        connection.send(f"exit {status}".encode())
    except OSError:  # the client has gone
        pass
    return 0


def _hang_up_with(connection: socket.socket) -> None:
    """Raise in this process each signal the client passes on, and SIGHUP once the client is gone."""
    import threading

    def listen() -> None:
        while message := _receive(connection):
            os.kill(os.getpid(), int(message.removeprefix("signal ")))
        os.kill(os.getpid(), _signal.SIGHUP)

    threading.Thread(target=listen, name="client", daemon=True).start()


def _run(argv: list[str]) -> int:
    """``labkit.cli.main(argv)``, with what the interpreter would do around it: a traceback, flushed output."""
    import traceback

    from . import main

    try:
        status = main(argv)
    except SystemExit as stop:  # argparse's --help (0) and usage errors (2)
        status = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
    except KeyboardInterrupt:  # a Ctrl-C before main() could catch it, which then returns 130 too
        status = 130
    except BaseException:
        traceback.print_exc()
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # the reader has gone (a closed pipe)
            pass
    return status


# --- its life: started by ``labkit lab up``, stopped by ``labkit lab down`` ------------------------------------------


def status(root: Path) -> int | None:
    """The pid of this lab root's fork server, if it runs."""
    from ..lab.daemon import pid

    return pid(root / PID_FILE, __name__)


def start(root: Path) -> int:
    """(Re)start this lab root's fork server, with this checkout's code; wait until it accepts; its pid."""
    from ..lab.daemon import start as start_daemon

    stop(root)
    path = root / SOCKET

    def accepting() -> bool:
        probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        try:
            return probe.connect_ex(str(path)) == 0
        finally:
            probe.close()

    return start_daemon(_server_argv(str(path)), root / PID_FILE, root / LOG, ready=accepting)


def stop(root: Path) -> None:
    """Stop this lab root's fork server, if it runs; commands in flight finish on their own."""
    from ..lab.daemon import stop as stop_daemon

    stop_daemon(root / PID_FILE, __name__)
    (root / SOCKET).unlink(missing_ok=True)

