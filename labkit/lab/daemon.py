"""The lab's daemons: processes that outlive the command that started them, found again by a pid file.

The lab's registry and its private containerd (``labkit.lab.containerd``) each run detached, in a
session of their own, so that the command or notebook that started them can exit, and a
terminal's Ctrl-C does not reach them. A pid file in the lab root lets ``labkit lab down`` stop
exactly that process; since the kernel reuses pids, a pid counts only while the process's
command line (``/proc/PID/cmdline``) still names the program that was started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import Unavailable

__all__ = ["pid", "start", "stop"]


def pid(pid_file: Path, program: str) -> int | None:
    """The pid in ``pid_file``, if that process still runs ``program``."""
    try:
        number = int(pid_file.read_text())
        cmdline = Path(f"/proc/{number}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return number if program.encode() in cmdline else None


def start(argv: list[str], pid_file: Path, log: Path, *, ready: Callable[[], bool], timeout: float = 15.0) -> int:
    """Start ``argv`` detached, its output appended to ``log``; wait until ``ready()``; its pid."""
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                   start_new_session=True)
    pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()  # if it hangs instead of answering, it goes too
            process.wait()
            pid_file.unlink(missing_ok=True)
            raise Unavailable(f"{' '.join(argv)} did not start; see {log}")
        time.sleep(0.02)
    return process.pid


def stop(pid_file: Path, program: str) -> None:
    """Stop the process in ``pid_file`` if it still runs ``program``: SIGTERM, then SIGKILL after 5 s.

    If this very process started it, it is reaped too, so that no zombie stays behind.
    """
    number = pid(pid_file, program)
    if number is not None:
        os.kill(number, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while pid(pid_file, program) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid(pid_file, program) is not None:
            os.kill(number, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # not our child: its parent reaps it
            os.waitpid(number, 0)
    pid_file.unlink(missing_ok=True)
