"""The runtime bundle's ``config.json``: runc's safe defaults, an image's config on top.

A *bundle* is a directory holding ``config.json`` and the root filesystem it names
(OCI runtime spec, bundle.md). ``runc`` reads nothing else: every decision about the
container — its process, its mounts, its namespaces, its limits, what it may not do —
is written in that file (runtime spec, config.md and config-linux.md).

- ``default_spec()`` is exactly what ``runc spec`` writes (``runc spec --rootless`` with
  ``rootless=True``): few capabilities, ``noNewPrivileges``, masked and read-only
  ``/proc`` paths, every device denied, a private pid/net/ipc/uts/mount namespace.
- ``spec_from_image()`` puts an image's config on top (OCI image spec, config.md:
  ``Entrypoint + Cmd``, ``Env``, ``WorkingDir``, ``User``) with the options a learner meets,
  and containerd's default seccomp profile (:mod:`labkit.seccomp`), which ``runc spec`` lacks.
  It only ever *adds* what was asked; the safe defaults stay.
- ``validate()`` checks a spec against the official JSON schema; ``write_bundle()`` writes it.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import cgroups, seccomp
from .errors import InvalidArgument, Unavailable

__all__ = [
    "OCI_VERSION",
    "SCHEMA_DIR",
    "DEFAULT_PATH",
    "default_spec",
    "spec_from_image",
    "parse_user",
    "validate",
    "write_bundle",
]

#: the runtime-spec version runc 1.1 writes
OCI_VERSION = "1.0.2-dev"
#: the official JSON schemas (Debian package golang-github-opencontainers-specs-dev)
SCHEMA_DIR = Path("/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema")
#: PATH when an image sets none (containerd, oci/spec.go: defaultUnixEnv)
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
_NOSUID_NOEXEC_NODEV = ["nosuid", "noexec", "nodev"]
# config-linux.md's member order, as runc (Go's struct order) writes it
_LINUX_ORDER = ("uidMappings", "gidMappings", "resources", "cgroupsPath", "namespaces", "seccomp", "maskedPaths",
                "readonlyPaths")


def _namespaces() -> tuple[str, ...]:
    return ("pid", "network", "ipc", "uts", "mount", *(("cgroup",) if cgroups.version() == 2 else ()))


def default_spec(rootless: bool = False) -> dict[str, Any]:
    """What ``runc spec`` writes (runc, libcontainer/specconv/example.go: Example, ToRootless).

    On a cgroup v2 host that includes a cgroup namespace: the container's ``/sys/fs/cgroup``
    then shows its own group as the root of the tree, not the host's hierarchy.
    """
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [DEFAULT_PATH, "TERM=xterm"],
            "cwd": "/",
            "capabilities": {kind: list(_CAPABILITIES) for kind in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": [*_NOSUID_NOEXEC_NODEV, "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": list(_NOSUID_NOEXEC_NODEV)},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*_NOSUID_NOEXEC_NODEV, "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": [*_NOSUID_NOEXEC_NODEV, "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": kind} for kind in _namespaces()],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }
    if rootless:
        _make_rootless(spec)
    return spec


def _make_rootless(spec: dict[str, Any]) -> None:
    """runc's ToRootless: a user namespace mapping 0 to the caller, /sys bind-mounted, no cgroup settings.

    Without privilege on the host there is no network to configure, no sysfs to mount
    and no cgroup to write, so those parts go; the user namespace makes the caller root inside.
    """
    linux = spec["linux"]
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] not in ("network", "user")]
    linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    linux.pop("resources", None)
    for mount in spec["mounts"]:
        if mount["destination"] == "/sys":
            mount.update(type="none", source="/sys", options=["rbind", *_NOSUID_NOEXEC_NODEV, "ro"])
        elif "options" in mount:
            mount["options"] = [o for o in mount["options"] if not o.startswith(("uid=", "gid="))]
    spec["linux"] = {key: linux[key] for key in sorted(linux, key=_LINUX_ORDER.index)}


def parse_user(user: str, rootfs: Path | None = None) -> dict[str, int]:
    """``uid``, ``uid:gid``, ``name`` or ``name:group`` to ``{"uid", "gid"}`` (image spec, config.md: User).

    Names are looked up in the *container's* ``/etc/passwd`` and ``/etc/group`` (never
    the host's), so they need ``rootfs``. A uid alone takes its passwd entry's group, or 0.
    """
    name, _, group = (user or "0").partition(":")
    passwd = _table(rootfs, "passwd")
    if name.isdigit():
        uid = int(name)
        entry = next((row for row in passwd.values() if row[0] == uid), None)
    else:
        if name not in passwd:
            raise InvalidArgument(f"user {name!r} is not in {_where(rootfs, 'passwd')}")
        entry = passwd[name]
        uid = entry[0]
    if not group:
        return {"uid": uid, "gid": entry[1] if entry else 0}
    if group.isdigit():
        return {"uid": uid, "gid": int(group)}
    groups = _table(rootfs, "group")
    if group not in groups:
        raise InvalidArgument(f"group {group!r} is not in {_where(rootfs, 'group')}")
    return {"uid": uid, "gid": groups[group][0]}


def _where(rootfs: Path | None, table: str) -> str:
    return f"{rootfs}/etc/{table}" if rootfs else f"the image's /etc/{table} (pass rootfs= to read it)"


def _table(rootfs: Path | None, table: str) -> dict[str, tuple[int, int]]:
    """``/etc/passwd`` (name -> uid, gid) or ``/etc/group`` (name -> gid, gid) of a root filesystem."""
    if rootfs is None or not (rootfs / "etc" / table).is_file():
        return {}
    rows = {}
    for line in (rootfs / "etc" / table).read_text(errors="replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            gid = fields[3] if table == "passwd" and len(fields) > 3 and fields[3].isdigit() else fields[2]
            rows[fields[0]] = (int(fields[2]), int(gid))
    return rows


def _merge_env(base: list[str], extra: Iterable[str]) -> list[str]:
    """Later ``KEY=value`` entries replace earlier ones with the same key (containerd: replaceOrAppendEnvValues)."""
    merged = {entry.partition("=")[0]: entry for entry in base}
    for entry in extra:
        merged[entry.partition("=")[0]] = entry
    return list(merged.values())


def spec_from_image(
    image_config: dict[str, Any],
    *,
    rootfs: Path | None = None,
    args: list[str] | None = None,
    env: Iterable[str] | None = None,
    cwd: str | None = None,
    user: str | None = None,
    hostname: str | None = None,
    mounts: Iterable[dict[str, Any]] = (),
    memory: int | None = None,
    pids: int | None = None,
    cpu_shares: int | None = None,
    cpu_quota: int | None = None,
    namespaces: Iterable[str] | None = None,
    netns_path: str | None = None,
    terminal: bool = False,
    rootless: bool = False,
    own_network: bool = False,
    cgroups_path: str | None = None,
) -> dict[str, Any]:
    """A spec for running an image: ``default_spec(rootless)`` plus the image's config and the options.

    ``image_config`` is the image's config blob (its ``config`` member holds ``Entrypoint``,
    ``Cmd``, ``Env``, ``WorkingDir``, ``User``). ``args`` replaces ``Entrypoint + Cmd`` (as
    ``ctr run IMAGE ID ARGS`` does); ``env`` entries override the image's; ``user`` overrides
    its ``User``. ``memory`` is bytes, ``pids`` a count, ``cpu_quota`` microseconds of CPU
    per 100 ms period. ``namespaces`` lists the types to unshare (default: runc's set);
    ``netns_path`` joins an existing network namespace instead of making a new one; ``own_network``
    makes a new one even for a rootless container (which otherwise shares the host's).
    The root filesystem is writable (it is the container's own snapshot). System calls are
    filtered by containerd's default seccomp profile for the spec's capabilities.
    """
    config = image_config.get("config") or {}
    spec = default_spec(rootless=rootless)
    process, linux = spec["process"], spec["linux"]
    process["args"] = list(args) if args is not None else [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    if not process["args"]:
        raise InvalidArgument("the image has no Entrypoint or Cmd: give the command to run (args)")
    process["terminal"] = terminal
    process["env"] = _merge_env(config.get("Env") or [DEFAULT_PATH], [*(["TERM=xterm"] if terminal else []), *(env or ())])
    process["cwd"] = cwd or config.get("WorkingDir") or "/"
    process["user"] = parse_user(user if user is not None else config.get("User", ""), rootfs)
    spec["root"]["readonly"] = False
    if hostname is not None:
        spec["hostname"] = hostname
    spec["mounts"].extend(copy.deepcopy(list(mounts)))
    if namespaces is not None:
        kinds = list(namespaces)
        linux["namespaces"] = [{"type": kind} for kind in kinds] + ([{"type": "user"}] if rootless and "user" not in kinds else [])
    if own_network and not any(ns["type"] == "network" for ns in linux["namespaces"]):
        linux["namespaces"].append({"type": "network"})  # rootless: runc spec --rootless shares the host's
    if netns_path is not None:
        network = next((ns for ns in linux["namespaces"] if ns["type"] == "network"), None)
        if network is None:
            linux["namespaces"].append(network := {"type": "network"})
        network["path"] = netns_path
    limits = {
        "memory": {"limit": memory} if memory is not None else None,
        "pids": {"limit": pids} if pids is not None else None,
        "cpu": {key: value for key, value in (("shares", cpu_shares), ("quota", cpu_quota),
                                               ("period", 100_000 if cpu_quota is not None else None)) if value is not None},
    }
    if any(limits.values()):
        if rootless and cgroups_path is None:
            raise InvalidArgument("a rootless container has no cgroup of its own: memory, pids and cpu limits need "
                                  "root, or a cgroup v2 subtree delegated to the user")
        # rootless: only the limits (runc spec --rootless drops the devices rules: no device cgroup is ours to set)
        linux.setdefault("resources", {}).update({kind: value for kind, value in limits.items() if value})
    if cgroups_path is not None:
        linux["cgroupsPath"] = cgroups_path
    linux["seccomp"] = seccomp.default_profile(process["capabilities"]["bounding"])
    spec["linux"] = {key: linux[key] for key in sorted(linux, key=_LINUX_ORDER.index)}
    return spec


@functools.cache
def _validator() -> Any:
    """A Draft 4 validator for config-schema.json whose relative ``$ref``s load from SCHEMA_DIR."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    def load(name: str) -> Any:
        return json.loads((SCHEMA_DIR / name).read_text())

    def retrieve(uri: str) -> Resource:
        return Resource.from_contents(load(Path(uri).name), default_specification=DRAFT4)

    try:
        schema = load("config-schema.json")
    except FileNotFoundError:
        raise Unavailable(f"no runtime-spec schema in {SCHEMA_DIR}: install golang-github-opencontainers-specs-dev") from None
    return jsonschema.Draft4Validator(schema, registry=Registry(retrieve=retrieve))  # type: ignore[call-arg]  # an attrs field


def validate(spec: dict[str, Any]) -> None:
    """Check ``spec`` against the runtime spec's JSON schema; ``InvalidArgument`` names the first problem."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(spec))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise InvalidArgument(f"config.json does not follow the runtime spec at {where}: {error.message}")


def write_bundle(directory: Path, spec: dict[str, Any]) -> Path:
    """Write ``config.json`` into ``directory`` (and make ``root.path`` if it is missing); return the directory.

    The file is written whole, then renamed into place, so runc never reads half of it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / spec["root"]["path"]).mkdir(exist_ok=True)
    partial = directory / ".config.json.tmp"
    partial.write_text(json.dumps(spec, indent=2) + "\n")
    partial.rename(directory / "config.json")
    return directory
