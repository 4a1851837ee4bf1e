"""What each notebook does in a lesser tier: run them all in such a kernel and count skipped and failed cells.

Run as root, with the lab registry up:

    .venv/bin/python docs/tier_survey.py inspect      # or: rootless  [NN-name ...]

- **inspect**: the kernel really has no root and cannot create a user namespace (a user namespace whose
  ``user.max_user_namespaces`` is used up, as in tests/lab/test_tiers.py).
- **rootless**: the kernel runs as the lab's ordinary system user with a fresh home, from a readable copy
  of labkit and the kernel's own dependencies (``labkit.lab.learners``).

docs/workshops.md has the table this prints.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from labkit.lab import learners

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = ["-m", "ipykernel_launcher", "-f"]
#: what the notebooks import, for the rootless kernel's copy
DISTRIBUTIONS = ("ipykernel", "httpx", "zstandard", "graphviz", "ipywidgets", "jsonschema", "prometheus_client",
                 "matplotlib", "PyYAML", "tqdm", "grpcio", "protobuf")


def kernel_argv(tier: str, work: Path) -> tuple[list[str], dict[str, str]]:
    """The kernel spec's argv and environment for ``tier``."""
    if tier == "inspect":
        block = ('echo 1 > /proc/sys/user/max_user_namespaces && '
                 'exec unshare --user --map-user=1000 --map-group=1000 "$@"')
        argv = ["unshare", "--user", "--map-root-user", "sh", "-c", block, "sh", sys.executable, *KERNEL,
                "{connection_file}"]
        return argv, {"LABKIT_ROOT": str(work / "root")}
    user = learners.ensure_user()
    site = learners.readable_copy(work / "site", DISTRIBUTIONS)
    home = work / "home"
    home.mkdir()
    shutil.chown(home, user.pw_uid, user.pw_gid)
    inner = learners.command(user.pw_name, [*KERNEL, "CONNECTION"], pythonpath=site, env={"HOME": str(home)})
    # The connection file is written by this (root) process: hand it to the user, then become the user.
    command = " ".join('"$0"' if arg == "CONNECTION" else shlex.quote(arg) for arg in inner)
    return ["sh", "-c", f'chown {user.pw_name} "$0" && exec {command}', "{connection_file}"], {}


def survey(tier: str, names: list[str]) -> None:
    work = Path(tempfile.mkdtemp(prefix="labkit-survey-"))
    work.chmod(0o755)
    try:
        argv, env = kernel_argv(tier, work)
        spec = work / "kernels" / tier
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "env": env, "display_name": tier,
                                                      "language": "python"}))
        os.environ["JUPYTER_RUNTIME_DIR"] = str(work)  # a connection file the rootless kernel can reach
        print(f"{'notebook':<32} cells  skipped  failed")
        for name in names:
            nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
            km = KernelManager(kernel_name=tier, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))
            started = time.monotonic()
            try:
                NotebookClient(nb, km=km, timeout=120, allow_errors=True,
                               resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
            finally:
                if km.has_kernel:  # nbclient leaves a kernel it was handed running
                    km.shutdown_kernel(now=True)
            code = [cell for cell in nb.cells if cell.cell_type == "code"]
            skipped = [c for c in code if any("⏭ Skipped" in o.get("text", "") for o in c.outputs)]
            failed = [c for c in code if any(o.output_type == "error" for o in c.outputs)]
            seconds = time.monotonic() - started
            print(f"{name:<32} {len(code):>5}  {len(skipped):>7}  {len(failed):>6}  ({seconds:.1f} s)")
            for cell in failed:
                error = next(o for o in cell.outputs if o.output_type == "error")
                print(f"    {cell.source.splitlines()[0][:60]!r}: {error.ename}: {error.evalue[:100]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    tier, *names = sys.argv[1:]
    survey(tier, names or sorted(path.stem for path in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")))
