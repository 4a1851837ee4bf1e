"""labkit's modules import one another in one direction only: no import cycle, at any depth.

Every ``import`` and ``from ... import`` in labkit/**/*.py is read with ``ast`` — at the top
of a module, inside a function, or under ``if TYPE_CHECKING:`` alike — and resolved to the
labkit module it names; the test fails on any cycle in that graph and names it. (A package's
``__init__`` importing its own submodules to gather their names is the one edge it leaves out:
``from . import x`` inside ``pkg/__init__.py`` is the package's surface, not a dependency.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import labkit

PACKAGE = Path(labkit.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py") if "_generated" not in path.parts}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The labkit modules ``name`` imports (a name imported from a package counts as its submodule if one)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            if node.level == 0 and node.module:
                target = node.module
            children = {f"{target}.{alias.name}" for alias in node.names}
            if is_package and target == name:  # the package gathering its own modules' names
                continue
            found.update(child if child in known else target for child in children)
    resolved = set()
    for module in found:
        while module and module not in known:  # a name inside a module: the module
            module = module.rpartition(".")[0]
        if module and module != name and module.startswith("labkit"):
            resolved.add(module)
    return resolved


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_the_graph_is_read_right() -> None:
    graph = _graph()
    assert "labkit.supervisor" in graph["labkit.task"] or "labkit.task" in graph["labkit.supervisor"]
    assert "labkit.identifiers" in graph["labkit.task"]  # from .identifiers import validate
    assert "labkit.shim.records" in graph["labkit.shim.parents"]  # from .records import (...)
    assert "labkit.api.protos" in graph["labkit.api.server"]


def test_no_import_cycle_inside_labkit() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
