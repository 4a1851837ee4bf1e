"""Strip what must not be committed from executed notebooks.

Headless execution stores widget state in the notebook's metadata and execution
counts in every cell; neither is compared by nbval (reference.md, "Notebook testing")
and both make diffs noisy. Usage: ``python -m labkit.lab.nbstrip notebooks/*.ipynb``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["strip"]


def strip(path: Path) -> None:
    """Remove widget state and volatile metadata from one notebook, in place."""
    nb = json.loads(path.read_text())
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] == "code":
            cell["execution_count"] = None
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = None
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        strip(Path(name))
