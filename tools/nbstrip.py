"""Strip what must not be committed from executed notebooks.

Headless execution stores the widgets' state in the notebook's metadata (reference.md,
"Notebook testing"): it is large, nbval does not compare it, and it makes every diff
noisy. Execution counts stay: nbval treats a cell without one as never run.
Usage: ``python tools/nbstrip.py notebooks/*.ipynb`` (a developer's tool: not part of the labkit package).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["strip"]


def strip(path: Path) -> None:
    """Remove widget state and per-cell execution timings from one notebook, in place."""
    nb = json.loads(path.read_text())
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        strip(Path(name))
