"""The default seccomp profile: containerd's own rules, checked against the installed containerd."""

from __future__ import annotations

import errno
import json
import uuid
from pathlib import Path

import pytest

from labkit import oci, seccomp
from labkit.lab.containerd import Containerd

RUNC_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def _names(profile: dict) -> set[str]:
    return {name for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for name in rule["names"]}


def test_runcs_capabilities_get_the_allow_list_and_nothing_that_reaches_the_kernel() -> None:
    profile = seccomp.default_profile(RUNC_CAPS, architecture="amd64", kernel="6.1.0-13-amd64")
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = _names(profile)
    assert {"read", "execve", "arch_prctl", "ptrace", "clone"} <= allowed
    assert not {"mount", "umount2", "unshare", "setns", "init_module", "finit_module", "kexec_load", "reboot",
                "keyctl", "add_key", "bpf", "open_by_handle_at", "chroot", "swapon"} & allowed
    clone = next(rule for rule in profile["syscalls"] if rule["names"] == ["clone"])
    assert clone["args"] == [{"index": 0, "value": 0x7E020000, "op": "SCMP_CMP_MASKED_EQ"}]  # no CLONE_NEW* flag
    assert profile["syscalls"][-1] == {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS}


def test_a_capability_opens_the_calls_it_governs() -> None:
    admin = seccomp.default_profile([*RUNC_CAPS, "CAP_SYS_ADMIN", "CAP_SYS_MODULE"], architecture="amd64", kernel="6.1")
    assert {"mount", "unshare", "setns", "clone3", "init_module", "delete_module"} <= _names(admin)
    assert not any(rule["names"] == ["clone"] and "args" in rule for rule in admin["syscalls"])
    assert all(rule["action"] == "SCMP_ACT_ALLOW" for rule in admin["syscalls"])


@pytest.mark.parametrize(("architecture", "kernel", "present", "absent"), [
    ("arm64", "6.1", {"set_tls", "cacheflush", "ptrace"}, {"arch_prctl"}),
    ("amd64", "4.4.0", {"arch_prctl"}, {"ptrace"}),  # before 4.8, ptrace could step around the filter
    ("s390x", "5.10", {"s390_runtime_instr"}, {"arch_prctl"}),
])
def test_rules_that_depend_on_the_machine(architecture: str, kernel: str, present: set, absent: set) -> None:
    profile = seccomp.default_profile(RUNC_CAPS, architecture=architecture, kernel=kernel)
    assert present <= _names(profile) and not absent & _names(profile)
    assert profile["architectures"] == seccomp.ARCHITECTURES[architecture]


def test_spec_from_image_carries_it_and_stays_valid() -> None:
    spec = oci.spec_from_image({"config": {"Cmd": ["sh"]}})
    assert spec["linux"]["seccomp"] == seccomp.default_profile(RUNC_CAPS)
    oci.validate(spec)
    assert "seccomp" not in oci.default_spec()["linux"]  # runc spec writes none


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.tool("containerd", "ctr")
def test_equal_to_what_containerd_generates(lab_root: Path, registry: str) -> None:
    """``ctr containers create --seccomp`` writes containerd's profile in the spec; ours is the same, rule by rule."""
    image, id = f"{registry}/lab/busybox:latest", f"sc-{uuid.uuid4().hex[:8]}"
    with Containerd(lab_root) as containerd:
        containerd.pull(image)
        containerd.ctr("containers", "create", "--seccomp", image, id)
        spec = json.loads(containerd.ctr("containers", "info", id).stdout)["Spec"]
        containerd.ctr("containers", "delete", id)
    capabilities = spec["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_CHROOT" in capabilities  # containerd's wider default set: one capability rule is exercised
    assert spec["linux"]["seccomp"] == seccomp.default_profile(capabilities)
