"""``labkit run``: create a container from an image and run its task, as ``ctr run`` does.

In the foreground the container's stdout and stderr are this command's own (the
task writes straight to the terminal), signals sent to ``labkit run`` are passed on
to the task, and the command exits with the task's exit status — 128+N when a
signal N killed it, as a shell reports it. The task is always deleted afterwards;
``--rm`` removes the container too. In the foreground this command waits for the task
itself: one ``runc run`` as its child creates, starts and deletes the container (no shim
to start, no ``runc start`` or ``delete``); with ``-d`` it returns once the task has
started and the task's shim keeps it supervised (``labkit tasks ls`` shows it).
An image not yet in the store is pulled first.
"""

from __future__ import annotations

import argparse
import signal
import sys

from ..errors import FailedPrecondition, InvalidArgument, NotFound
from ..runtime import RUNTIMES
from ..supervisor import Container, Supervisor
from ..task import Status, Task
from ._shared import command_args
from .images import add_pull_options, pull_image

__all__ = ["register"]

_PROXIED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser("run", help="run a container from an image (like `ctr run`)")
    run.add_argument("--rm", action="store_true", help="remove the container when its task has exited")
    run.add_argument("-d", "--detach", action="store_true", help="return once the task has started")
    run.add_argument("--runtime", choices=RUNTIMES, default="runc", help="the OCI runtime (default runc)")
    run.add_argument("--snapshotter", choices=("overlay", "native"), help="default overlay (native without root)")
    add_pull_options(run)  # the image is pulled first if it is not in the store
    run.add_argument("id", metavar="ID", help="container id")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="-- ARGS", help="command instead of the image's")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.rm and args.detach:
        raise InvalidArgument("--rm and --detach cannot be used together")
    command = command_args(args.args)
    sup = Supervisor(args.root)
    try:
        image = sup.image(args.ref)
    except NotFound:
        image = pull_image(args)
    container = sup.create_container(args.id, image, command or None, runtime=args.runtime,
                                     snapshotter=args.snapshotter)
    try:
        if args.detach:
            container.new_task().start()
            return 0
        return _foreground(container)
    finally:
        if args.rm:  # also when the task could not be created or started
            container.delete()


def _foreground(container: Container) -> int:
    """Run the container's task with our stdout and stderr, pass signals on, delete it; its exit status.

    The signal handlers go in before the task starts: a Ctrl-C that comes while the runtime is
    still creating it is kept, and passed on as soon as there is a process to receive it.
    """
    task: Task | None = None
    early: list[int] = []

    def proxy(signum: int, _frame: object) -> None:
        if task is None:
            early.append(signum)
            return
        try:
            task.kill(signum)
        except FailedPrecondition:  # it has just exited
            pass

    previous = {signum: signal.signal(signum, proxy) for signum in _PROXIED}
    try:
        task = container.run_task(stdout=sys.stdout.fileno(), stderr=sys.stderr.fileno())
        for signum in early:
            proxy(signum, None)
        return task.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if task is not None:
            if task.status() != Status.STOPPED:  # we were interrupted: do not leave it running
                task.kill(signal.SIGKILL)
                task.wait()
            task.delete()
