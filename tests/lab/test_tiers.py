"""Notebooks in the inspect tier: their privileged cells say why they are skipped, the others run.

The kernel really is on a host without root and without user namespaces, not merely told
so with ``$LABKIT_TIER``: it starts in a user namespace A (mapping only root, so that A's
``user.max_user_namespaces`` is ours to set) whose limit is set to 1, then in a user
namespace B inside it where it is uid 1000. Making B used up A's allowance, so any further
user namespace fails with ENOSPC, and uid 1000 has no capabilities: ``labkit doctor``'s own
probes find no root and no user namespaces. (B's uid 1000 is the host's root, so the kernel
can still read the project's virtualenv wherever it lives; nothing on the host changes.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from labkit.lab import learners

TOP = Path(__file__).resolve().parents[2]
NOTEBOOKS = TOP / "notebooks"
SKIPPED = "⏭ Skipped on this host:"
_BLOCK_USERNS = ('echo 1 > /proc/sys/user/max_user_namespaces && '
                 'exec unshare --user --map-user=1000 --map-group=1000 "$@"')


@pytest.fixture
def inspect_kernel(tmp_path: Path, lab_root: Path) -> Iterator[KernelManager]:
    """A kernel manager whose kernel runs with no root and no user namespaces (see the module's docstring)."""
    spec = tmp_path / "kernels" / "inspect"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": ["unshare", "--user", "--map-root-user", "sh", "-c", _BLOCK_USERNS, "sh",
                 sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "inspect tier", "language": "python", "env": {"LABKIT_ROOT": str(lab_root)},
    }))
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)])
    manager = KernelManager(kernel_name="inspect", kernel_spec_manager=specs)
    yield manager
    if manager.has_kernel:  # nbclient leaves a kernel it was handed running
        manager.shutdown_kernel(now=True)


def _outputs(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.slow
@pytest.mark.parametrize("name", ["07-runtime-bundle", "14-rootless"])  # cells that need full, and rootless
def test_a_notebook_in_the_inspect_tier_skips_what_it_cannot_do_and_runs_the_rest(
        name: str, inspect_kernel: KernelManager) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    code[0].source += "\nfrom labkit.lab.doctor import tier\nprint('tier:', tier())"
    NotebookClient(nb, km=inspect_kernel, timeout=60, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()

    assert "tier: inspect" in _outputs(code[0])
    privileged = [cell for cell in code if cell.source.startswith("%%needs")]
    assert len(privileged) >= 3
    for cell in privileged:
        text = _outputs(cell)
        assert text.startswith(SKIPPED), cell.source
        assert "'inspect' tier" in text and "labkit doctor" in text  # why, and what to do
    for cell in code:
        assert not [out for out in cell.outputs if out.output_type == "error"], cell.source
    others = [cell for cell in code if cell not in privileged]
    assert all(SKIPPED not in _outputs(cell) for cell in others)
    assert any("✔" in _outputs(cell) for cell in others)  # the exercise's check ran, and passed


@pytest.fixture
def world_readable() -> Iterator[Path]:
    """A temporary directory an ordinary user can reach (pytest's own are root's alone)."""
    directory = Path(tempfile.mkdtemp(prefix="labkit-binder-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


@pytest.mark.root
@pytest.mark.tool("docker-registry")
@pytest.mark.slow
def test_binder_start_gives_an_ordinary_user_a_seeded_registry(world_readable: Path) -> None:
    """binder/start, run as a hosted service runs it (an ordinary user, ``labkit`` on PATH), serves lab/busybox."""
    user = learners.ensure_user()
    site = learners.readable_copy(world_readable / "site")
    (world_readable / "bin").mkdir()
    wrapper = f'#!/bin/sh\nPYTHONPATH={site} exec /usr/bin/python3 -m labkit "$@"\n'  # what pip's entry point does
    (world_readable / "bin" / "labkit").write_text(wrapper)
    shutil.copy(TOP / "binder" / "start", world_readable / "start")
    subprocess.run(["chmod", "-R", "a+rx", str(world_readable)], check=True)
    home = world_readable / "home"
    home.mkdir()
    shutil.chown(home, user.pw_uid, user.pw_gid)
    with socket.socket() as probe:  # a free port: the lab's own registry keeps 5000
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    environment = [f"HOME={home}", f"PATH={world_readable / 'bin'}:/usr/bin:/bin", f"LABKIT_REGISTRY={address}"]
    then = ["labkit", "pull", "--plain-http", f"{address}/lab/busybox:latest"]  # stands in for the notebook server
    started = subprocess.run(["runuser", "-u", user.pw_name, "--", "env", "-i", *environment,
                              str(world_readable / "start"), *then],
                             capture_output=True, text=True, cwd="/", timeout=60)
    pid_file = home / ".local" / "share" / "labkit" / "registry" / "registry.pid"
    try:
        assert started.returncode == 0, started.stderr + (home / ".labkit-lab-up.log").read_text()
        assert started.stdout.startswith("sha256:")  # the notebook server's command ran after the registry was up
    finally:
        if pid_file.exists():
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
