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
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SKIPPED = "⏭ Skipped on this host:"
_BLOCK_USERNS = 'echo 1 > /proc/sys/user/max_user_namespaces && exec unshare --user --map-user=1000 --map-group=1000 "$@"'


@pytest.fixture
def inspect_kernel(tmp_path: Path, lab_root: Path) -> KernelManager:
    """A kernel manager whose kernel runs with no root and no user namespaces (see the module's docstring)."""
    spec = tmp_path / "kernels" / "inspect"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": ["unshare", "--user", "--map-root-user", "sh", "-c", _BLOCK_USERNS, "sh",
                 sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "inspect tier", "language": "python", "env": {"LABKIT_ROOT": str(lab_root)},
    }))
    return KernelManager(kernel_name="inspect", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))


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
