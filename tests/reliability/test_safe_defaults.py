"""Safe defaults: what a container made with labkit's defaults cannot do to the kernel or the host.

Each probe runs inside a real container (runc or crun, the lab's busybox) and reports how it
was refused; the error tells which layer of defence refused it: ``Operation not
permitted`` is a missing capability or the seccomp filter, ``Read-only file system``
a read-only mount, an empty read a masked path.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path

import pytest

from labkit import images, snapshots
from labkit.supervisor import Container, Supervisor

from .conftest import Clean

pytestmark = [pytest.mark.root, pytest.mark.registry, pytest.mark.tool("runc")]

#: name, then the command; each prints "name: allowed" or "name: denied: <the error>"
PROBES = r"""
probe() {
    name=$1; shift
    if "$@" >/dev/null 2>/tmp/err; then echo "$name: allowed"; else echo "$name: denied: $(cat /tmp/err)"; fi
}
probe mount mount -t tmpfs none /tmp
probe insmod insmod /bin/busybox
probe userns unshare -U true
probe mountns unshare -m true
probe mknod mknod /tmp/sda b 8 0
probe chroot chroot / true
probe sysctl sh -c 'echo evil > /proc/sys/kernel/domainname'
probe sysfs sh -c 'echo 1 > /sys/kernel/profiling'
group=/sys/fs/cgroup; [ -e $group/cgroup.controllers ] || group=$group/memory   # the v2 tree, or v1's memory hierarchy
probe cgroupfs mkdir $group/escape
echo "kcore: $(head -c 16 /proc/kcore 2>/dev/null | wc -c) bytes"
echo "timer_list: $(wc -c < /proc/timer_list) bytes"
grep -E '^(NoNewPrivs|Seccomp|CapInh|CapPrm|CapEff|CapBnd|CapAmb):' /proc/self/status | sed 's/:[[:space:]]*/: /'
"""
#: runc's default set: CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10)
RUNC_CAPS = f"{(1 << 29) | (1 << 5) | (1 << 10):016x}"


@pytest.fixture
def sup(lab_root: Path, registry: str, lab_clean_here: Clean) -> Supervisor:
    """A supervisor with the lab's busybox pulled; what a test leaves, lab clean removes."""
    images.pull(f"{registry}/lab/busybox:latest", plain_http=True)
    return Supervisor()


def run(sup: Supervisor, script: str, *, without: str = "", runtime: str = "runc") -> tuple[Container, str]:
    """Run ``script`` to completion in a new container (``without``: drop that key of ``linux`` first)."""
    container = sup.create_container(f"safe-{uuid.uuid4().hex[:8]}", "127.0.0.1:5000/lab/busybox:latest",
                                     ["sh", "-c", script], runtime=runtime)
    if without:
        spec = container.spec
        del spec["linux"][without]
        (container.bundle / "config.json").write_text(json.dumps(spec))
    task = container.new_task()
    task.start()
    assert task.wait() == 0, (container.dir / "stderr").read_text()
    output = (container.dir / "stdout").read_text()
    task.delete()
    return container, output


def _lines(output: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


@pytest.mark.parametrize("runtime", [pytest.param(name, marks=pytest.mark.tool(name)) for name in ("runc", "crun")])
def test_a_container_cannot_reach_the_kernel(sup: Supervisor, runtime: str) -> None:
    result = _lines(run(sup, PROBES, runtime=runtime)[1])
    for name in ("mount", "insmod", "userns", "mountns", "mknod", "chroot"):  # capabilities and seccomp
        assert re.match(r"denied: .*(not permitted|permission denied)", result[name], re.I), (name, result[name])
    for name in ("sysctl", "sysfs", "cgroupfs"):  # /proc/sys, /sys and the cgroup tree are mounted read-only
        assert result[name].startswith("denied") and "Read-only file system" in result[name], (name, result[name])
    assert result["kcore"] == "0 bytes"  # masked (or, on a kernel without it, absent): no byte of host memory
    assert Path("/proc/timer_list").read_bytes() and result["timer_list"] == "0 bytes"  # masked: /dev/null over it
    assert result["NoNewPrivs"] == "1" and result["Seccomp"] == "2"  # 2: a filter is loaded
    assert [result[f"Cap{kind}"] for kind in ("Prm", "Eff", "Bnd")] == [RUNC_CAPS] * 3
    assert result["CapInh"] == result["CapAmb"] == "0" * 16


def test_the_seccomp_filter_is_what_stops_a_user_namespace(sup: Supervisor) -> None:
    """unshare(CLONE_NEWUSER) needs no capability: only the filter refuses it (and init_module's EPERM)."""
    script = "unshare -U true && echo userns: allowed; insmod /bin/busybox 2>&1 | sed 's/^/insmod: /'"
    filtered, unfiltered = _lines(run(sup, script)[1]), _lines(run(sup, script, without="seccomp")[1])
    assert "userns" not in filtered and unfiltered["userns"] == "allowed"
    assert "Operation not permitted" in filtered["insmod"]
    assert "Operation not permitted" not in unfiltered["insmod"]  # the kernel itself got the call this time


def test_writes_stay_in_the_containers_own_layer(sup: Supervisor, tmp_path: Path) -> None:
    host_file = tmp_path / "host-secret"
    host_file.write_text("the host's\n")
    before = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    script = (f"echo owned >> /etc/passwd; echo mine > /root/note; cat {host_file} 2>&1 | sed 's/^/host file: /';"
              "ls /proc/1/root/ >/dev/null && echo 'pid 1 is my own init'")
    container, output = run(sup, script)
    assert "host file: cat: can't open" in output and "pid 1 is my own init" in output
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == before
    assert host_file.read_text() == "the host's\n"
    upper = _upper(sup, container)
    assert (upper / "root/note").read_text() == "mine\n" and (upper / "etc/passwd").read_text().endswith("owned\n")
    image = sup.image("127.0.0.1:5000/lab/busybox:latest")
    lower = snapshots.get("overlay", sup.root)
    top = snapshots.chain_ids(image.config["rootfs"]["diff_ids"])[-1]
    assert "owned" not in _committed_file(lower, top, "etc/passwd")


def _upper(sup: Supervisor, container: Container) -> Path:
    """The container's writable overlay layer on the host."""
    (mount,) = sup.snapshots("overlay").mounts(container.snapshot_key)
    return Path(dict(o.split("=", 1) for o in mount.options if "=" in o)["upperdir"])


def _committed_file(snapshotter: snapshots.Snapshotter, name: str, path: str) -> str:
    info = snapshotter.stat(name)
    return (snapshotter.root / "snapshots" / str(info.id) / "fs" / path).read_text()
