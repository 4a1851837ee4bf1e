"""The runtime bundle the bare-runtime drivers (runc, crun) run, and one copy per container.

A bundle is a directory holding ``config.json`` and a root filesystem (runtime spec,
bundle.md). The default one is as small as a container gets: busybox-static and the
symlinks ``busybox --install -s`` makes, under the config ``runc spec`` writes plus
containerd's default seccomp profile (:mod:`labkit.seccomp`) — which labkit gives
every container, so that the bare runtimes are timed running the same container:
runc compiles the filter at every start, and that is several milliseconds.

Every container needs its own ``config.json``, because the lab's cgroups are
``/labkit/<id>`` (paths.py) and the path is in the config (runtime spec,
config-linux.md "cgroupsPath"). The per-container bundle shares the one read-only
root filesystem by naming it with an absolute ``root.path`` (config.md "Root").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .. import seccomp
from ..errors import Unavailable
from ..paths import CGROUP_PARENT

__all__ = ["BUSYBOX", "default_bundle", "container_bundle"]

#: Debian's busybox-static: one static binary, nothing else needed in the root filesystem
BUSYBOX = Path("/bin/busybox")


def _run(*argv: str | Path) -> None:
    try:
        subprocess.run([str(a) for a in argv], check=True, capture_output=True)
    except FileNotFoundError:
        raise Unavailable(f"{argv[0]} is not installed") from None
    except subprocess.CalledProcessError as err:
        raise Unavailable(f"{' '.join(map(str, argv))}: {err.stderr.decode().strip()}") from None


def default_bundle(directory: Path) -> Path:
    """Make a busybox bundle in ``directory`` and return it; needs root for ``chroot``.

    The root filesystem is made once; ``config.json`` every time, so that a bundle left by
    an older labkit never times a different container from labkit's (one without seccomp).
    """
    config = directory / "config.json"
    rootfs = directory / "rootfs"
    if not (rootfs / "bin/busybox").exists():
        if not BUSYBOX.exists():
            raise Unavailable(f"{BUSYBOX} is missing (apt-get install busybox-static)")
        (rootfs / "bin").mkdir(parents=True, exist_ok=True)
        for empty in ("proc", "sys", "dev", "tmp"):
            (rootfs / empty).mkdir(exist_ok=True)
        shutil.copy2(BUSYBOX, rootfs / "bin/busybox")
        _run("chroot", rootfs, "/bin/busybox", "--install", "-s", "/bin")
    with tempfile.TemporaryDirectory(dir=directory) as template:  # runc spec never overwrites a config
        _run("runc", "spec", "--bundle", template)
        spec = json.loads((Path(template) / "config.json").read_text())
    spec["process"]["terminal"] = False  # detached: no console to hand over
    spec["root"]["readonly"] = True      # shared by every container of the run
    spec["linux"]["seccomp"] = seccomp.default_profile(spec["process"]["capabilities"]["bounding"])
    config.with_suffix(".tmp").write_text(json.dumps(spec, indent=2))
    config.with_suffix(".tmp").replace(config)  # a reader never sees half a config
    return directory


def container_bundle(base: Path, directory: Path, container_id: str, args: Sequence[str]) -> Path:
    """Write ``directory/config.json`` for one container: ``base``'s config, its own cgroup and args."""
    spec = json.loads((base / "config.json").read_text())
    spec["root"]["path"] = str((base / spec["root"]["path"]).resolve())
    spec["process"]["args"] = list(args)
    spec["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/{container_id}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(spec))
    return directory
