"""Runtime spec generation: runc's defaults, an image's config on top, the schema, a real run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from labkit import cgroups, oci, seccomp
from labkit.errors import InvalidArgument

BUSYBOX = {"config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}}
PASSWD = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\nbroken line\nnobody:x:65534:65534::/:/bin/false\n"
GROUP = "root:x:0:\nwww:x:33:\nstaff:x:50:www\n"


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(PASSWD)
    (tmp_path / "etc/group").write_text(GROUP)
    return tmp_path


def assert_safe(spec: dict[str, Any]) -> None:
    """What must survive every option (issue 12): the defaults that keep a container contained."""
    default = oci.default_spec()
    assert spec["process"]["noNewPrivileges"] is True
    assert spec["process"]["capabilities"] == default["process"]["capabilities"]
    assert spec["linux"]["maskedPaths"] == default["linux"]["maskedPaths"]
    assert spec["linux"]["readonlyPaths"] == default["linux"]["readonlyPaths"]
    assert spec["linux"]["seccomp"] == seccomp.default_profile(default["process"]["capabilities"]["bounding"])
    assert "privileged" not in json.dumps(spec)
    if "resources" in spec["linux"]:
        assert spec["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]
    oci.validate(spec)


@pytest.mark.tool("runc")
@pytest.mark.parametrize("rootless", [False, True])
def test_default_spec_is_what_runc_spec_writes(tmp_path: Path, rootless: bool) -> None:
    subprocess.run(["runc", "spec", *(["--rootless"] if rootless else [])], cwd=tmp_path, check=True)
    written = (tmp_path / "config.json").read_text()
    assert oci.default_spec(rootless) == json.loads(written)
    assert list(oci.default_spec(rootless)["linux"]) == list(json.loads(written)["linux"])  # same order too


def test_rootless_maps_root_to_the_caller() -> None:
    linux = oci.default_spec(rootless=True)["linux"]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    cgroup = ["cgroup"] if cgroups.version() == 2 else []  # runc spec adds a cgroup namespace on v2
    assert [ns["type"] for ns in linux["namespaces"]] == ["pid", "ipc", "uts", "mount", *cgroup, "user"]
    assert "resources" not in linux


@pytest.mark.parametrize(
    ("config", "options", "args", "env", "cwd"),
    [
        (BUSYBOX["config"], {}, ["sh"], ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "/"),
        ({"Entrypoint": ["/bin/app", "--serve"], "Cmd": ["--port", "80"], "WorkingDir": "/srv"}, {},
         ["/bin/app", "--serve", "--port", "80"], [oci.DEFAULT_PATH], "/srv"),
        ({"Entrypoint": ["/bin/app"], "Cmd": ["x"]}, {"args": ["sh", "-c", "exit 7"], "cwd": "/tmp"},
         ["sh", "-c", "exit 7"], [oci.DEFAULT_PATH], "/tmp"),
        ({"Cmd": ["sh"], "Env": ["PATH=/bin", "A=1", "B=2"]}, {"env": ["B=3", "C=4"], "terminal": True},
         ["sh"], ["PATH=/bin", "A=1", "B=3", "TERM=xterm", "C=4"], "/"),
        ({"Cmd": ["sh"]}, {"env": ["TERM=vt100"], "terminal": True}, ["sh"], [oci.DEFAULT_PATH, "TERM=vt100"], "/"),
    ],
)
def test_process_comes_from_the_image_config(config: dict, options: dict, args: list, env: list, cwd: str) -> None:
    spec = oci.spec_from_image({"architecture": "amd64", "os": "linux", "config": config}, **options)
    process = spec["process"]
    assert (process["args"], process["env"], process["cwd"]) == (args, env, cwd)
    assert process["terminal"] is options.get("terminal", False)
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert_safe(spec)


def test_an_image_without_a_command_needs_args() -> None:
    with pytest.raises(InvalidArgument, match="no Entrypoint or Cmd"):
        oci.spec_from_image({"config": {"Env": ["PATH=/bin"]}})
    assert oci.spec_from_image({}, args=["true"])["process"]["args"] == ["true"]


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", {"uid": 0, "gid": 0}),
        ("33", {"uid": 33, "gid": 33}),          # a uid takes its passwd group
        ("1234", {"uid": 1234, "gid": 0}),       # ... or 0 when it has no entry
        ("1000:1001", {"uid": 1000, "gid": 1001}),
        ("www", {"uid": 33, "gid": 33}),
        ("www:staff", {"uid": 33, "gid": 50}),
        ("nobody:0", {"uid": 65534, "gid": 0}),
        ("0:staff", {"uid": 0, "gid": 50}),
    ],
)
def test_user_parsing_reads_the_containers_passwd(rootfs: Path, user: str, expected: dict) -> None:
    assert oci.parse_user(user, rootfs) == expected
    assert oci.spec_from_image({"config": {"Cmd": ["id"], "User": user}}, rootfs=rootfs)["process"]["user"] == expected


def test_user_names_need_the_rootfs_and_must_exist(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="pass rootfs="):
        oci.parse_user("www")
    with pytest.raises(InvalidArgument, match="'ghost' is not in .*/etc/passwd"):
        oci.parse_user("ghost", rootfs)
    with pytest.raises(InvalidArgument, match="group 'wheel'"):
        oci.parse_user("www:wheel", rootfs)
    assert oci.parse_user("7:8") == {"uid": 7, "gid": 8}  # numbers need no lookup
    spec = oci.spec_from_image({"config": {"Cmd": ["id"], "User": "www"}}, rootfs=rootfs, user="5")
    assert spec["process"]["user"] == {"uid": 5, "gid": 0}  # the option overrides the image


def test_options_a_learner_meets() -> None:
    bind = {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]}
    spec = oci.spec_from_image(
        BUSYBOX, hostname="demo", mounts=[bind], memory=64 << 20, pids=16, cpu_shares=512, cpu_quota=50_000,
        netns_path="/run/netns/labkit-demo", cgroups_path="/labkit/demo",
    )
    assert spec["hostname"] == "demo"
    assert spec["mounts"][-1] == bind and spec["mounts"][:-1] == oci.default_spec()["mounts"]
    resources = spec["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 << 20}
    assert resources["pids"] == {"limit": 16}
    assert resources["cpu"] == {"shares": 512, "quota": 50_000, "period": 100_000}
    assert {"type": "network", "path": "/run/netns/labkit-demo"} in spec["linux"]["namespaces"]
    assert len(spec["linux"]["namespaces"]) == 5
    assert spec["linux"]["cgroupsPath"] == "/labkit/demo"
    assert list(spec["linux"]) == ["resources", "cgroupsPath", "namespaces", "seccomp", "maskedPaths", "readonlyPaths"]
    assert_safe(spec)


def test_choosing_namespaces() -> None:
    spec = oci.spec_from_image(BUSYBOX, namespaces=["pid", "mount"])
    assert spec["linux"]["namespaces"] == [{"type": "pid"}, {"type": "mount"}]
    rootless = oci.spec_from_image(BUSYBOX, namespaces=["mount"], rootless=True)
    assert rootless["linux"]["namespaces"] == [{"type": "mount"}, {"type": "user"}]
    assert_safe(spec)


def test_rootless_image_spec() -> None:
    spec = oci.spec_from_image(BUSYBOX, rootless=True)
    assert spec["linux"]["uidMappings"][0]["hostID"] == os.geteuid()
    assert spec["mounts"][5]["options"][0] == "rbind"
    assert_safe(spec)
    with pytest.raises(InvalidArgument, match="rootless"):
        oci.spec_from_image(BUSYBOX, rootless=True, memory=1 << 20)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda s: s["process"]["user"].update(uid=-1), "process/user/uid"),
        (lambda s: s.pop("ociVersion"), "(top level)"),
        (lambda s: s["mounts"].append({"type": "tmpfs"}), "mounts/7"),
        (lambda s: s["linux"]["namespaces"].append({"type": "time-travel"}), "linux/namespaces/5/type"),
        (lambda s: s["process"].update(args="sh"), "process/args"),
    ],
)
def test_validate_names_where_the_spec_is_wrong(change: Any, where: str) -> None:
    spec = oci.default_spec()
    change(spec)
    with pytest.raises(InvalidArgument, match=re.escape(f"at {where}:")):
        oci.validate(spec)


def test_write_bundle(tmp_path: Path) -> None:
    spec = oci.spec_from_image(BUSYBOX)
    bundle = oci.write_bundle(tmp_path / "bundle", spec)
    assert json.loads((bundle / "config.json").read_text()) == spec
    assert (bundle / "rootfs").is_dir()
    assert sorted(p.name for p in bundle.iterdir()) == ["config.json", "rootfs"]


@pytest.mark.root
@pytest.mark.tool("runc")
def test_runc_runs_a_generated_bundle(lab_root: Path, tmp_path: Path) -> None:
    """The spec is not just valid: runc runs it, with the user, cwd, env, hostname and limits asked for."""
    container = f"oci-{uuid.uuid4().hex[:8]}"
    bundle = tmp_path / "bundle"
    (bundle / "rootfs/bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", bundle / "rootfs/bin/busybox")
    for directory in ("proc", "sys", "dev", "tmp", "etc"):
        (bundle / "rootfs" / directory).mkdir(exist_ok=True)
    (bundle / "rootfs/etc/passwd").write_text(PASSWD)
    script = 'echo "$(/bin/busybox id -u):$(/bin/busybox id -g) $PWD $GREETING $(/bin/busybox hostname)"; exit 7'
    spec = oci.spec_from_image(BUSYBOX, rootfs=bundle / "rootfs", args=["/bin/busybox", "sh", "-c", script],
                               env=["GREETING=hi"], cwd="/tmp", user="www", hostname="bundle", pids=32,
                               memory=32 << 20, cgroups_path=f"/labkit/{container}")
    oci.validate(spec)
    oci.write_bundle(bundle, spec)
    runc = ["runc", "--root", str(lab_root / "runc")]
    try:
        result = subprocess.run([*runc, "run", "--bundle", str(bundle), container],
                                capture_output=True, text=True, timeout=30)
    finally:
        subprocess.run([*runc, "delete", "--force", container], capture_output=True)
    assert (result.returncode, result.stdout, result.stderr) == (7, "33:33 /tmp hi bundle\n", "")
