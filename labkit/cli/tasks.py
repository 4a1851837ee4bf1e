"""``labkit tasks ls|ps|pause|resume|kill|exec|delete|metrics``: running processes, as ``ctr tasks``.

Each verb finds the task again from its records (``Supervisor().container(ID).task()``)
and asks for one transition; a transition the task's state forbids fails with one
line (``labkit: cannot pause d1: it is stopped (pause needs running)``) and changes
nothing. ``exec`` runs a second process in the container: in the foreground its
output is this command's and its exit status is this command's.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

from ..errors import InvalidArgument, NotFound
from ..supervisor import Supervisor
from ..task import Task
from ._shared import command_args, print_table
from .metrics import add_task_metrics

__all__ = ["register", "parse_signal"]


def _with_id(verbs: argparse._SubParsersAction[argparse.ArgumentParser], name: str, description: str,
             func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    parser = verbs.add_parser(name, help=description)
    parser.add_argument("id", metavar="ID", help="container id")
    parser.set_defaults(func=func)
    return parser


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tasks = subparsers.add_parser("tasks", help="manage the containers' running tasks (like `ctr tasks`)")
    verbs = tasks.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("ls", help="list tasks: id, pid, status").set_defaults(func=_ls)
    _with_id(verbs, "ps", "list the host pids of a task's processes", _ps)
    _with_id(verbs, "pause", "freeze a running task (cgroup freezer)", _pause)
    _with_id(verbs, "resume", "thaw a paused task", _resume)
    kill = _with_id(verbs, "kill", "send a signal to a task (default SIGTERM)", _kill)
    kill.add_argument("-s", "--signal", default="SIGTERM", help="signal name or number")
    kill.add_argument("-a", "--all", action="store_true", help="signal every process of the task")
    kill.add_argument("--exec-id", help="signal this exec'd process instead of the init process")
    exec_ = _with_id(verbs, "exec", "run another process in a running task", _exec)
    exec_.add_argument("--exec-id", required=True, help="a name for the new process")
    exec_.add_argument("-d", "--detach", action="store_true", help="return once the process has started")
    exec_.add_argument("args", nargs=argparse.REMAINDER, metavar="-- ARGS")
    _with_id(verbs, "delete", "delete a stopped task", _delete)
    add_task_metrics(verbs)


def _task(args: argparse.Namespace) -> Task:
    """The task of the container named on the command line, found again from its records."""
    return Supervisor(args.root).container(args.id).task()


def parse_signal(value: str) -> int:
    """``-s``'s value as ``kill(1)`` takes it: a number, or a name with or without ``SIG`` (``TERM``, ``sigkill``).

    Only ASCII: ``str.isdigit`` and ``int`` also accept other scripts' digits (Devanagari "९"
    is 9 to Python), and a signal is a number the kernel knows, 1 to ``SIGRTMAX`` (signal(7)).
    """
    name = value.upper() if value.upper().startswith("SIG") else "SIG" + value.upper()
    if value.isascii() and value.isdigit() and len(value) <= 3 and 1 <= int(value) <= signal.SIGRTMAX:
        return int(value)
    if value.isascii() and name in signal.Signals.__members__:
        return signal.Signals[name]
    raise InvalidArgument(f"unknown signal {value[:40]!r}: give a name (TERM, KILL) or a number from 1 to "
                          f"{int(signal.SIGRTMAX)}")


def _ls(args: argparse.Namespace) -> int:
    rows = [("TASK", "PID", "STATUS")]
    for container in Supervisor(args.root).containers():
        try:
            task = container.task()
        except NotFound:
            continue
        rows.append((task.id, str(task.pid), task.status().upper()))
    print_table(rows)
    return 0


def _ps(args: argparse.Namespace) -> int:
    print_table([("PID",), *((str(pid),) for pid in _task(args).pids())])
    return 0


def _pause(args: argparse.Namespace) -> int:
    _task(args).pause()
    return 0


def _resume(args: argparse.Namespace) -> int:
    _task(args).resume()
    return 0


def _kill(args: argparse.Namespace) -> int:
    task = _task(args)
    if args.exec_id:
        task.process(args.exec_id).kill(parse_signal(args.signal))
    else:
        task.kill(parse_signal(args.signal), all_processes=args.all)
    return 0


def _exec(args: argparse.Namespace) -> int:
    command = command_args(args.args)
    if not command:
        raise InvalidArgument("exec needs a command: labkit tasks exec --exec-id NAME ID -- ARGS...")
    process = _task(args).exec(args.exec_id, command)
    if args.detach:
        process.start()
        return 0
    process.start(stdout=sys.stdout.fileno(), stderr=sys.stderr.fileno())
    status = process.wait()
    process.delete()
    return status


def _delete(args: argparse.Namespace) -> int:
    _task(args).delete()
    return 0
