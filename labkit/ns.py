"""Linux namespaces, one system call at a time: what a runtime does before it execs.

A namespace wraps one global resource (host name, mount table, process ids, network
stack, ...) so that the processes inside see their own copy of it (man 7 namespaces).
A container is, first of all, a process in a fresh set of them. This module has:

- inspection: :func:`namespaces` reads ``/proc/PID/ns/*`` (each link names a type and
  an inode; two processes share a namespace exactly when the inodes are equal) and
  :func:`shared` compares two processes;
- the system calls: :func:`unshare`, :func:`setns`, :func:`sethostname`, :func:`mount`,
  :func:`umount`, :func:`pivot_root`, :func:`mount_proc`, and user namespace id maps;
- :func:`spawn` and :func:`run`, which call a function in a **child process** that has
  unshared (or joined) namespaces. The calling process — a notebook's kernel — never
  moves: every call above that changes namespaces or mounts is meant to run in a child.

``os.unshare``/``os.setns`` exist only from Python 3.12; below that we call libc through
ctypes. The flag values are the kernel's (``include/uapi/linux/sched.h``, ``mount.h``).
"""

from __future__ import annotations

import ctypes
import errno
import os
import pickle
import platform
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

__all__ = [
    "CLONE_NEWCGROUP", "CLONE_NEWIPC", "CLONE_NEWNET", "CLONE_NEWNS", "CLONE_NEWPID",
    "CLONE_NEWTIME", "CLONE_NEWUSER", "CLONE_NEWUTS", "CLONE_FLAGS",
    "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_BIND", "MS_REC", "MS_PRIVATE", "MNT_DETACH",
    "Namespace", "namespaces", "shared",
    "unshare", "setns", "sethostname", "mount", "umount", "pivot_root", "mount_proc",
    "id_map", "set_id_map",
    "Child", "spawn", "run",
]

T = TypeVar("T")

# clone(2) flags, one per namespace type (include/uapi/linux/sched.h).
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
#: namespace type, as ``/proc/PID/ns`` names it -> its clone flag
CLONE_FLAGS = {
    "cgroup": CLONE_NEWCGROUP, "ipc": CLONE_NEWIPC, "mnt": CLONE_NEWNS, "net": CLONE_NEWNET,
    "pid": CLONE_NEWPID, "time": CLONE_NEWTIME, "user": CLONE_NEWUSER, "uts": CLONE_NEWUTS,
}

# mount(2) flags (include/uapi/linux/mount.h) and umount2(2)'s lazy-detach flag.
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2

#: glibc has no pivot_root() wrapper: the raw system call number, per architecture
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    """Turn a failed libc call (-1 and errno) into labkit's error kinds."""
    if result == 0:
        return
    code = ctypes.get_errno()
    message = f"{what}: {os.strerror(code)}"
    if code in (errno.EPERM, errno.EACCES):
        raise PermissionDenied(message)
    if code == errno.ENOENT:
        raise NotFound(message)
    if code == errno.EINVAL:
        raise InvalidArgument(message)
    raise OSError(code, message)


# --- inspection ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Namespace:
    """One namespace, as a ``/proc/PID/ns/TYPE`` link shows it: ``uts:[4026531838]``."""

    type: str
    inode: int

    def __str__(self) -> str:
        return f"{self.type}:[{self.inode}]"


def namespaces(pid: int | str = "self") -> dict[str, Namespace]:
    """The namespaces of process ``pid``, keyed by the entry name in ``/proc/PID/ns``.

    ``pid_for_children`` and ``time_for_children`` are where the process's *next*
    children will go: after ``unshare(CLONE_NEWPID)`` only they change (man 7 pid_namespaces).
    """
    directory = Path(f"/proc/{pid}/ns")
    result = {}
    try:
        for entry in sorted(os.listdir(directory)):
            try:
                link = os.readlink(directory / entry)
            except FileNotFoundError:  # pid_for_children of a PID namespace with no process in it yet
                continue
            kind, _, inode = link.partition(":")
            result[entry] = Namespace(kind, int(inode.strip("[]")))
    except FileNotFoundError:
        raise NotFound(f"no such process: {pid}") from None
    except PermissionError:
        raise PermissionDenied(f"cannot inspect the namespaces of process {pid} (ptrace access mode)") from None
    return result


def shared(a: int | str, b: int | str = "self") -> dict[str, bool]:
    """For each namespace entry, whether processes ``a`` and ``b`` share it (same inode)."""
    ours, theirs = namespaces(a), namespaces(b)
    return {entry: ours[entry] == theirs.get(entry) for entry in ours}


# --- the system calls ---------------------------------------------------------------------


def unshare(flags: int) -> None:
    """Move the *calling* process into new namespaces (unshare(2)). Call it in a child."""
    if hasattr(os, "unshare"):  # Python 3.12+
        os.unshare(flags)
    else:
        _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(path: str | os.PathLike[str], nstype: int = 0) -> None:
    """Move the calling process into the namespace that ``path`` (a ``/proc/PID/ns/*`` link) names."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if hasattr(os, "setns"):  # Python 3.12+
            os.setns(fd, nstype)
        else:
            _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), f"setns {path}")
    finally:
        os.close(fd)


def sethostname(name: str) -> None:
    """Set the host name — of the caller's UTS namespace only, which is the point of one."""
    socket.sethostname(name)


def mount(source: str, target: str | os.PathLike[str], fstype: str | None = None,
          flags: int = 0, data: str | None = None) -> None:
    """mount(2): attach a file system (or, with ``MS_BIND``, a directory) at ``target``."""
    encode = lambda s: None if s is None else os.fsencode(s)  # noqa: E731
    result = _libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data))
    _check(result, f"mount {source} on {target}")


def umount(target: str | os.PathLike[str], flags: int = 0) -> None:
    """umount2(2); ``MNT_DETACH`` detaches now and frees the mount when it is no longer busy."""
    _check(_libc.umount2(os.fsencode(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str | os.PathLike[str], put_old: str | os.PathLike[str]) -> None:
    """pivot_root(2): make ``new_root`` the root of this mount namespace, the old root moving to ``put_old``.

    Unlike chroot(2), this changes the mount table itself, so once ``put_old`` is
    unmounted the host's root is gone from the namespace, not merely out of sight.
    ``new_root`` must be a mount point (bind-mount a directory onto itself first).
    """
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise InvalidArgument(f"pivot_root: unknown system call number on {platform.machine()}")
    _check(_libc.syscall(ctypes.c_long(number), os.fsencode(new_root), os.fsencode(put_old)), "pivot_root")


def mount_proc(target: str | os.PathLike[str] = "/proc") -> None:
    """Mount a fresh procfs: it shows the processes of the *mounting* process's PID namespace."""
    mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def id_map(pid: int | str = "self", kind: str = "uid") -> list[tuple[int, int, int]]:
    """A user namespace's ``uid_map`` or ``gid_map``: (inside, outside, count) ranges (man 7 user_namespaces)."""
    text = Path(f"/proc/{pid}/{kind}_map").read_text()
    return [tuple(int(n) for n in line.split()) for line in text.splitlines()]  # type: ignore[misc]


def set_id_map(pid: int, kind: str, ranges: Iterable[tuple[int, int, int]]) -> None:
    """Write a new user namespace's ``uid_map`` or ``gid_map`` (once; from its parent namespace)."""
    Path(f"/proc/{pid}/{kind}_map").write_text("".join(f"{a} {b} {n}\n" for a, b, n in ranges))


# --- children in new namespaces -----------------------------------------------------------


def _exit_status(wait_status: int) -> int:
    """A waitpid status as a shell reports it: the exit code, or 128+N after signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


@dataclass
class Child:
    """A process started by :func:`spawn`; ``pid`` is the one running the function, as the host numbers it."""

    pid: int
    _waitee: int = field(repr=False)
    _go: int | None = field(repr=False)
    _out: int | None = field(repr=False)
    status: int | None = field(default=None, init=False)

    def _start(self) -> None:
        """Let the function run: it waits for this, so that the parent can first set maps, cgroups, ..."""
        os.write(self._go, b"1")
        os.close(self._go)
        self._go = None

    def output(self) -> str:
        """Everything the child wrote to stdout and stderr (``capture=True``), once it closes them."""
        if self._out is None:
            return ""
        with os.fdopen(self._out, "rb") as out:
            self._out = None
            return out.read().decode(errors="replace")

    def wait(self) -> int:
        """Wait for the child and return its exit status (128+N if signal N killed it)."""
        if self.status is None:
            self.status = _exit_status(os.waitpid(self._waitee, 0)[1])
        return self.status

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig``. As PID 1 of its namespace it ignores signals it has no handler for — but not SIGKILL."""
        if self.status is None:
            os.kill(self.pid, sig)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._go is not None:
            os.close(self._go)  # an unstarted child sees EOF and exits
            self._go = None
        if self.status is None:
            try:
                self.kill()
            except ProcessLookupError:
                pass
        self.wait()
        self.output()


def _join(pid: int) -> int:
    """Enter every namespace of ``pid`` that differs from ours, user first (the order nsenter uses).

    Returns the clone flags of the namespaces entered.
    """
    ours, theirs = namespaces(), namespaces(pid)
    entered = 0
    for kind in ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time"):
        if kind in theirs and theirs[kind] != ours[kind]:
            setns(f"/proc/{pid}/ns/{kind}", CLONE_FLAGS[kind])
            entered |= CLONE_FLAGS[kind]
    return entered


def _child_main(fn: Callable[[], object], flags: int, join: int | None,
                ready: int, go: int, out: int | None) -> None:
    """The child's side of :func:`spawn`; it never returns, it exits."""
    status = 1
    # Our own streams on file descriptors 1 and 2, never the caller's (a notebook kernel's, with its buffers).
    sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False)
    try:
        entered = _join(join) if join is not None else 0
        unshare(flags)
        if flags & CLONE_NEWNS:
            # Stop our mounts from propagating back to the host (util-linux unshare does the same).
            mount("none", "/", None, MS_REC | MS_PRIVATE)
        if (flags | entered) & (CLONE_NEWPID | CLONE_NEWTIME):
            # New (or joined) PID and time namespaces hold our *children* only: fork (a new PID one's first is PID 1).
            pid = os.fork()
            if pid:
                os.write(ready, str(pid).encode())
                for fd in (ready, go, out):
                    if fd is not None:
                        os.close(fd)
                status = _exit_status(os.waitpid(pid, 0)[1])
                return
        else:
            os.write(ready, str(os.getpid()).encode())
        os.close(ready)
        if os.read(go, 1) != b"1":
            return
        if out is not None:
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(out)
        fn()
        status = 0
    except BaseException:  # noqa: BLE001 - a forked child must never return to the caller's code
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        os._exit(status)


def spawn(fn: Callable[[], object], *, flags: int = 0, join: int | None = None,
          uid_map: Iterable[tuple[int, int, int]] = (), gid_map: Iterable[tuple[int, int, int]] = (),
          setup: Callable[[int], object] | None = None, capture: bool = False) -> Child:
    """Call ``fn`` in a child process that first joins ``join``'s namespaces, then unshares ``flags``.

    With ``CLONE_NEWPID`` (or ``CLONE_NEWTIME``) the child forks once more, since those
    namespaces take only the caller's children: ``fn`` then runs as PID 1. The
    child then waits while the parent writes its user namespace maps and calls
    ``setup(pid)`` (e.g. ``cgroup.add``): runc's create/start split, where everything
    is in place before the first instruction of the container runs. ``capture``
    collects stdout and stderr for :meth:`Child.output`. ``fn`` may exec; the exit
    status is then the program's.
    """
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe() if capture else (None, None)
    waitee = os.fork()
    if waitee == 0:
        _child_main(fn, flags, join, ready_w, go_r, out_w)
    for fd in (ready_w, go_r, out_w):
        if fd is not None:
            os.close(fd)
    with os.fdopen(ready_r, "rb") as ready:
        pid = ready.read()
    child = Child(int(pid or waitee), waitee, go_w, out_r)
    try:
        if not pid:
            raise FailedPrecondition(f"the child could not set up its namespaces (exit status {child.wait()})")
        for kind, ranges in (("uid", uid_map), ("gid", gid_map)):
            if ranges:
                set_id_map(child.pid, kind, ranges)
        if setup is not None:
            setup(child.pid)
    except BaseException:
        child.__exit__()
        raise
    child._start()
    return child


def run(fn: Callable[[], T], **options: Any) -> T:
    """Call ``fn`` in a child (see :func:`spawn` for ``options``) and return what it returns.

    The value (or the exception ``fn`` raised) comes back pickled through a pipe, so
    the notebook can look at a namespace without ever being in it.
    """
    result_r, result_w = os.pipe()

    def send_result() -> None:
        try:
            payload = pickle.dumps((True, fn()))
        except BaseException as err:  # noqa: BLE001 - it is re-raised in the parent
            try:
                payload = pickle.dumps((False, err))
            except Exception:  # noqa: BLE001 - an exception that cannot be pickled
                payload = pickle.dumps((False, RuntimeError(repr(err))))
        with os.fdopen(result_w, "wb") as out:
            out.write(payload)

    with spawn(send_result, **options) as child:
        os.close(result_w)
        with os.fdopen(result_r, "rb") as result:
            data = result.read()
        status = child.wait()
    if not data:
        raise FailedPrecondition(f"the child exited with status {status} before returning a result")
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value
