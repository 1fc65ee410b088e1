"""The package's layering, as ARCHITECTURE.md draws it, held by a test.

Imports are read from the source (every ``import`` statement a module runs,
at its top or inside a function); imports under ``if TYPE_CHECKING:`` never
run and are left out.  Two rules: nothing imports in a circle, and each layer
imports only the layers below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "omsh"

#: Which top-level parts of omsh each part may import (besides itself).
ALLOWED = {
    "errors": set(),
    "store": {"errors"},
    "authn": {"errors", "store"},
    "commands": {"errors", "store"},
    "cdmi": {"errors", "store", "authn", "web"},
    "web": {"errors", "store", "authn", "cdmi"},
    "ssh": {"errors", "store", "authn", "commands"},
    "cli": {"errors", "store", "authn", "commands", "ssh", "cdmi", "web"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def run_time_imports(source: str) -> set[str]:
    """The modules *source* imports when it runs (not those only type checkers see)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {target for target in run_time_imports(path.read_text()) if target in modules}
        - {name}
        for name, path in modules.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def part(module: str) -> str:
    return module.split(".")[1] if "." in module else "package"


def test_the_reader_sees_imports_inside_functions_but_not_type_only_ones() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import a\n"
        "if TYPE_CHECKING:\n    import b\nelse:\n    import c\n"
        "def f():\n    from d import e\n"
    )
    assert run_time_imports(source) == {"typing", "typing.TYPE_CHECKING", "a", "c", "d", "d.e"}


def test_circles_are_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_in_a_circle() -> None:
    assert circles(import_graph()) == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    graph = import_graph()
    reaching_up = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if part(module) == layer
        for target in targets
        if part(target) not in ALLOWED[layer] | {layer, "package"}
    )
    assert reaching_up == []
