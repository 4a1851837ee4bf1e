"""The fork server itself: a spare child forked ahead, which takes the next client and becomes its command.

The package's docstring tells the story and draws the conversation; this module is the server's
side of it, imported only by the server process (``labkit lab up`` starts it: see ``start``).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable

from .. import COMMANDS, build_parser, main
from . import IN_PROCESS, MAX_MESSAGE, STDIO, identity, receive

__all__ = ["serve", "argv"]

_MADV_POPULATE_WRITE = 23  # <linux/mman.h>


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
    signal.signal(signal.SIGCHLD, _reap)
    _reap(signal.SIGCHLD, None)  # children of the server this one replaced (exec) may have ended meanwhile
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
            os.execv(sys.executable, argv(path))
        if what == b"":  # a bug killed it before any client came: do not fork in a tight loop
            time.sleep(1)


def _spare(listener: socket.socket, lifeline: int, told: int, stale: Callable[[], bool]) -> int:
    """Wait for the next client (or the server's end); tell the server; become the client's command."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the child waits for its own children (runc)
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


def argv(path: str) -> list[str]:
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
    message, ancillary, flags, _ = connection.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(4 * len(STDIO)))
    fds = [int.from_bytes(data[i:i + 4], sys.byteorder) for level, kind, data in ancillary
           if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS) for i in range(0, len(data), 4)]
    if not message:  # a client that connected and left (``start`` probing whether we accept)
        return 0
    fields = [os.fsdecode(field) for field in message.split(b"\0")[:-1]]
    if fields[:2] != identity() or len(fds) != len(STDIO) or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        return 0  # another checkout's client, or a garbled request: the client runs the command itself
    cwd, umask, argc = fields[2], int(fields[3]), int(fields[4])
    argv, environment = fields[5:5 + argc], fields[5 + argc:]
    for target, fd in zip(STDIO, fds):
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
    def listen() -> None:
        while message := receive(connection):
            os.kill(os.getpid(), int(message.removeprefix("signal ")))
        os.kill(os.getpid(), signal.SIGHUP)

    threading.Thread(target=listen, name="client", daemon=True).start()


def _run(argv: list[str]) -> int:
    """``labkit.cli.main(argv)``, with what the interpreter would do around it: a traceback, flushed output."""
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
