"""WHAT: the import graph of the project's own modules, read from their source (ast), and tests that it
     has no cycle and that no app imports another app's private names.
WHY: an import circle held open by a late import inside a function works until someone moves that
     import; then the app fails at start-up. The graph test finds every circle, late imports included.
HOW: every `import`/`from ... import` anywhere in a module (module level, functions, TYPE_CHECKING
     blocks) is an edge; `from pkg import name` is an edge to `pkg.name` when that is a module. Cycles are
     the strongly connected components with more than one module (Tarjan), or a module importing itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("marketplace", "llm", "health", "negotiations", "web", "bench")


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import in the module's source."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    found.append((submodule, []))
                else:
                    found.append((base, [alias.name]))
    return [(target, names) for target, names in found if target in modules]


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: {target for target, _ in imports_of(name, path, modules)} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of size > 1, and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_project_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_graph_sees_late_imports_and_cycles():
    # The check itself must be able to fail: a two-module circle and a self-import are both found.
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_graph_follows_function_level_and_relative_imports(tmp_path):
    source = "def f():\n    from llm.registry import aget_provider\n"
    path = tmp_path / "mod.py"
    path.write_text(source)
    modules = {"llm.registry": Path("llm/registry.py"), "negotiations.x": path}
    assert imports_of("negotiations.x", path, modules) == [("llm.registry", ["aget_provider"])]


@pytest.mark.parametrize("app", ["marketplace", "llm", "health", "negotiations", "web"])
def test_no_app_imports_private_names_of_another_app(app):
    modules = project_modules()
    offending = [
        f"{name} imports {', '.join(names)} from {target}"
        for name, path in modules.items()
        if name.split(".")[0] == app
        for target, names in imports_of(name, path, modules)
        if target.split(".")[0] != app
        and (any(n.startswith("_") for n in names) or any(part.startswith("_") for part in target.split(".")))
    ]
    assert offending == []
