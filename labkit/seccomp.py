"""The default seccomp profile: which system calls a container may make at all.

Capabilities decide what a process may do *with* a system call; seccomp (seccomp(2),
``SECCOMP_SET_MODE_FILTER``) decides whether the kernel even runs it. The runtime
spec carries the filter as ``linux.seccomp`` (runtime-spec, config-linux.md "Seccomp"):
a ``defaultAction`` for every call not listed, the ``architectures`` it applies to,
and ``syscalls`` rules, each a list of names, an ``action`` and optional ``args``
conditions. runc compiles it with libseccomp into a BPF program that the container's
init loads just before it execs the user's process.

``runc spec`` writes no profile; containerd adds this one (``ctr run --seccomp``, and
always through CRI). This module is containerd 1.6.20's (Debian 12's) ``contrib/seccomp`` default,
the same rules in the same order, as data:

- an allow-list (:data:`ALLOWED`) of ordinary calls; everything else fails with
  ``EPERM`` (``SCMP_ACT_ERRNO``): ``mount``, ``unshare``, ``init_module``, ``keyctl``,
  ``reboot``, ``bpf``, ... — the kernel surface a container has no business with;
- ``personality`` only with the few harmless personas;
- calls a capability would make harmless anyway are allowed only when the container
  holds that capability (:data:`BY_CAPABILITY`: ``mount`` with ``CAP_SYS_ADMIN``, ...);
- ``clone`` without any namespace flag unless the container holds ``CAP_SYS_ADMIN``,
  and ``clone3`` (whose flags seccomp cannot read) failing with ``ENOSYS`` so that
  libc falls back to ``clone``.
"""

from __future__ import annotations

import errno
import os
import re
from typing import Any

from .platforms import Platform

__all__ = ["ALLOWED", "BY_ARCH", "BY_CAPABILITY", "ARCHITECTURES", "default_profile"]

#: allowed for every container (containerd 1.6, contrib/seccomp/seccomp_default.go)
ALLOWED: tuple[str, ...] = tuple("""
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create
epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2
execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32
getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority
getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter io_uring_register
io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64
madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64
pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64
recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction
rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64
sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socket
socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range
syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat
utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
""".split())

#: personality(2) personas allowed: PER_LINUX, UNAME26, PER_LINUX32, UNAME26|PER_LINUX32, and the query 0xffffffff
_PERSONAS = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)

#: libseccomp's architectures a filter for this machine must cover (32-bit calls included)
ARCHITECTURES: dict[str, list[str]] = {
    "amd64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "arm64": ["SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"],
    "s390x": ["SCMP_ARCH_S390", "SCMP_ARCH_S390X"],
    "riscv64": ["SCMP_ARCH_RISCV64"],
}

#: calls only one architecture has (e.g. amd64's arch_prctl, which sets the TLS register)
BY_ARCH: dict[str, tuple[str, ...]] = {
    "ppc64le": ("sync_file_range2", "swapcontext"),
    "arm": ("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"),
    "arm64": ("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"),
    "amd64": ("arch_prctl", "modify_ldt"),
    "386": ("modify_ldt",),
    "s390x": ("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
    "riscv64": ("riscv_flush_icache",),
}

#: calls allowed only to a container whose bounding set holds the capability (capabilities(7))
BY_CAPABILITY: dict[str, tuple[str, ...]] = {
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_SYS_ADMIN": ("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                      "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree",
                      "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
                      "syslog", "umount", "umount2", "unshare"),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_CHROOT": ("chroot",),
    "CAP_SYS_MODULE": ("delete_module", "init_module", "finit_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_PTRACE": ("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy"),
    "CAP_SYSLOG": ("syslog",),
    "CAP_BPF": ("bpf",),
    "CAP_PERFMON": ("perf_event_open",),
}

#: <linux/sched.h>: the clone(2) flags that make new namespaces — mount, uts, ipc, user, pid, net, cgroup
_CLONE_NAMESPACES = 0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x02000000


def _allow(names: tuple[str, ...] | list[str], args: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"names": list(names), "action": "SCMP_ACT_ALLOW", **({"args": args} if args else {})}


_KERNEL_VERSION = re.compile(r"(\d+)\.(\d+)")  # major.minor, at the start of a release like 6.1.0-13-amd64


def _ptrace_is_safe(release: str) -> bool:
    """Before Linux 4.8 a traced process could bypass its seccomp filter, so ptrace stays denied there."""
    version = _KERNEL_VERSION.match(release)
    return version is not None and (int(version[1]), int(version[2])) >= (4, 8)


def default_profile(capabilities: list[str], *, architecture: str | None = None,
                    kernel: str | None = None) -> dict[str, Any]:
    """containerd's default ``linux.seccomp`` for a process with the bounding set ``capabilities``.

    ``architecture`` (Go's name: amd64, arm64, ...) and ``kernel`` (a release such as
    ``6.1.0``) default to this machine's, as containerd takes them from the host.
    """
    architecture = architecture or Platform.host().architecture
    kernel = kernel if kernel is not None else os.uname().release
    syscalls = [_allow(ALLOWED)]
    syscalls += [_allow(["personality"], [{"index": 0, "value": value, "op": "SCMP_CMP_EQ"}]) for value in _PERSONAS]
    if _ptrace_is_safe(kernel):
        syscalls.append(_allow(["ptrace"]))
    if architecture in BY_ARCH:
        syscalls.append(_allow(BY_ARCH[architecture]))
    syscalls += [_allow(BY_CAPABILITY[cap]) for cap in capabilities if cap in BY_CAPABILITY]
    if "CAP_SYS_ADMIN" not in capabilities:
        flags = 1 if architecture == "s390x" else 0  # s390's clone takes its flags second
        no_namespaces = {"index": flags, "value": _CLONE_NAMESPACES, "op": "SCMP_CMP_MASKED_EQ"}
        syscalls.append(_allow(["clone"], [no_namespaces]))
        syscalls.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS})
    return {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ARCHITECTURES.get(architecture, []),
            "syscalls": syscalls}
