"""labkit.ns on the real kernel: each namespace type, what leaks and what does not, pivot_root."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from labkit import ns
from labkit.errors import NotFound

pytestmark = pytest.mark.root


def _mountinfo() -> str:
    return Path("/proc/self/mountinfo").read_text()


def test_a_process_shares_every_namespace_with_itself() -> None:
    assert all(ns.shared("self", os.getpid()).values())
    assert str(ns.namespaces()["uts"]).startswith("uts:[")


def test_an_unknown_process_is_not_found() -> None:
    with pytest.raises(NotFound):
        ns.namespaces(2**22 + 1)  # above pid_max's ceiling


@pytest.mark.parametrize("kind", sorted(ns.CLONE_FLAGS))
def test_the_child_sees_a_new_inode_for_each_namespace_type(kind: str) -> None:
    if not os.path.exists(f"/proc/self/ns/{kind}"):
        pytest.skip(f"this kernel has no {kind} namespaces")
    inside = ns.run(ns.namespaces, flags=ns.CLONE_FLAGS[kind])
    host = ns.namespaces()
    assert inside[kind].type == host[kind].type == kind
    assert inside[kind].inode != host[kind].inode
    unchanged = {k for k in ns.CLONE_FLAGS if k != kind and k != "user" and k in host}
    assert {k for k in unchanged if inside[k] != host[k]} == set()


def test_the_hostname_set_inside_does_not_leak_out() -> None:
    before = socket.gethostname()
    inside = ns.run(lambda: (ns.sethostname("inside-uts"), socket.gethostname())[1], flags=ns.CLONE_NEWUTS)
    assert inside == "inside-uts"
    assert socket.gethostname() == before


def test_a_mount_made_inside_does_not_leak_out(tmp_path: Path) -> None:
    def mount_and_write() -> list[str]:
        ns.mount("tmpfs", tmp_path, "tmpfs")
        (tmp_path / "inside").write_text("only in the child's mount namespace\n")
        return os.listdir(tmp_path)

    assert ns.run(mount_and_write, flags=ns.CLONE_NEWNS) == ["inside"]
    assert os.listdir(tmp_path) == []
    assert str(tmp_path) not in _mountinfo()


def test_pid_1_inside_is_the_command() -> None:
    child = ns.spawn(lambda: os.execvp("sh", ["sh", "-c", "echo $$; exit 7"]), flags=ns.CLONE_NEWPID, capture=True)
    with child:
        assert child.output() == "1\n"
        assert child.wait() == 7
    assert child.pid != 1  # the host numbers it as any other process


def test_a_fresh_proc_shows_only_the_new_pid_namespace() -> None:
    def pids() -> list[int]:
        ns.mount_proc("/proc")
        return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())

    assert ns.run(pids, flags=ns.CLONE_NEWPID | ns.CLONE_NEWNS) == [1]
    assert len([p for p in os.listdir("/proc") if p.isdigit()]) > 1


def test_after_pivot_root_the_host_root_is_unreachable(tmp_path: Path) -> None:
    new_root = tmp_path / "root"
    new_root.mkdir()

    def pivot() -> tuple[list[str], bool, list[str]]:
        ns.mount("tmpfs", new_root, "tmpfs")
        (new_root / "marker").write_text("")
        os.chdir(new_root)
        ns.pivot_root(".", ".")
        ns.umount(".", ns.MNT_DETACH)
        os.chdir("/")
        for _ in range(10):  # the chroot escape: climb as far as ".." goes
            os.chdir("..")
        return os.listdir("/"), os.path.exists(__file__), os.listdir(".")

    listing, sees_host_file, after_climbing = ns.run(pivot, flags=ns.CLONE_NEWNS)
    assert listing == after_climbing == ["marker"]
    assert not sees_host_file
    assert str(new_root) not in _mountinfo()


def test_join_enters_another_process_namespaces() -> None:
    def wait_forever() -> None:
        ns.sethostname("joined-uts")
        os.execvp("sleep", ["sleep", "60"])

    with ns.spawn(wait_forever, flags=ns.CLONE_NEWUTS | ns.CLONE_NEWPID) as child:
        shared = ns.shared(child.pid)
        assert not shared["uts"] and not shared["pid"] and shared["net"]
        hostname, pid = ns.run(lambda: (socket.gethostname(), os.getpid()), join=child.pid)
        assert hostname == "joined-uts"
        assert pid == 2  # the sleeping PID 1 is the first; we come second
    assert child.status == 137  # SIGKILLed on the way out of the with block


def test_user_namespace_ids_are_overflow_until_mapped() -> None:
    assert ns.run(os.getuid, flags=ns.CLONE_NEWUSER) == 65534
    uid, uid_map = ns.run(lambda: (os.getuid(), ns.id_map()), flags=ns.CLONE_NEWUSER,
                          uid_map=[(0, os.geteuid(), 1)], gid_map=[(0, os.getegid(), 1)])
    assert uid == 0
    assert uid_map == [(0, os.geteuid(), 1)]


def test_an_exception_inside_comes_back_to_the_caller() -> None:
    with pytest.raises(ZeroDivisionError):
        ns.run(lambda: 1 // 0, flags=ns.CLONE_NEWUTS)


def test_a_failure_while_setting_up_the_child_is_raised_in_the_caller() -> None:
    with pytest.raises(NotFound, match="no such process"):
        ns.run(os.getpid, join=2**22 + 1)  # the child cannot join a process that does not exist
