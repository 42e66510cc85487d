"""The layering the README states, enforced: read from the source, not from memory.

- Dependencies point one way: `bot -> dialogs`, `bot -> storage`. Nothing imports `bot`;
  `dialogs` (the pure engine) imports neither `storage`, aiogram nor SQLAlchemy; `storage`
  imports neither `bot` nor `dialogs`.
- No import cycle inside a package (imports inside functions count: a cycle hidden in a
  function is still two modules that cannot be understood apart).
- The command line starts without aiogram, so `passerelle try` and the operator commands work
  where the bot's stack is not needed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "dialogs", "storage")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "dialogs": ("bot", "storage", "aiogram", "sqlalchemy", "alembic", "redis", "asyncpg", "aiosqlite"),
    "storage": ("bot", "dialogs", "aiogram"),
    "bot": (),
}
CLI_MODULES = ("bot.cli.main",)


@dataclass(frozen=True)
class Import:
    module: str
    """The importing module, dotted."""
    target: str
    """What it imports, dotted and absolute."""
    line: int
    top_level: bool
    """Executed when the module is imported (not inside a function)."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> Iterator[Import]:
    module = module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))

    def walk(node: ast.AST, top_level: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):
                continue  # annotations only: never executed
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, child.lineno, top_level)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = module.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    yield Import(module, f"{base}.{alias.name}" if base else alias.name, child.lineno, top_level)
            inner = top_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from walk(child, inner)

    yield from walk(tree, True)


ALL_IMPORTS = [found for path in source_files() for found in imports_of(path)]
MODULES = {module_name(path) for path in source_files()}


def resolve(target: str) -> str | None:
    """The project module a dotted import lands on (`bot.texts.HELP` -> `bot.texts`)."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in MODULES:
            return name
        parts.pop()
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_point_one_way(package: str) -> None:
    wrong = [
        f"{found.module}:{found.line} imports {found.target}"
        for found in ALL_IMPORTS
        if found.module.split(".")[0] == package and found.target.split(".")[0] in FORBIDDEN[package]
    ]
    assert not wrong, f"{package} must not import {', '.join(FORBIDDEN[package])}:\n" + "\n".join(wrong)


def test_nothing_outside_bot_imports_bot() -> None:
    wrong = [
        f"{f.module}:{f.line}"
        for f in ALL_IMPORTS
        if f.target.split(".")[0] == "bot" and f.module.split(".")[0] != "bot"
    ]
    assert not wrong


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as a path that ends where it starts, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(edges.get(node, ())):
            cycle = visit(nxt, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(edges):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def import_graph(package: str) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for found in ALL_IMPORTS:
        target = resolve(found.target)
        if found.module.split(".")[0] != package or target is None or target == found.module:
            continue
        if target == package or target.split(".")[0] != package:
            continue  # the package's own __init__ (a namespace), or another package
        edges.setdefault(found.module, set()).add(target)
    return edges


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_a_package(package: str) -> None:
    cycle = find_cycle(import_graph(package))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles() -> None:
    """The test above can fail: a made-up graph with a cycle is caught."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_cli_modules_import_aiogram_only_inside_functions() -> None:
    cli = {m for m in MODULES if m == "bot.cli" or m.startswith("bot.cli.")}
    assert cli, "no CLI module found: update this test with the new layout"
    wrong = [
        f"{f.module}:{f.line} imports {f.target} at module level"
        for f in ALL_IMPORTS
        if f.module in cli and f.top_level and f.target.split(".")[0] == "aiogram"
    ]
    assert not wrong, "\n".join(wrong)


def test_package_inits_import_no_aiogram() -> None:
    """A package's `__init__` runs whenever anything inside it is imported: keep it light."""
    inits = {module_name(path) for path in source_files() if path.name == "__init__.py"}
    wrong = [
        f"{f.module}:{f.line} imports {f.target}"
        for f in ALL_IMPORTS
        if f.module in inits and f.top_level and f.target.split(".")[0] == "aiogram"
    ]
    assert len(inits) >= 5
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("module", CLI_MODULES)
def test_the_command_line_starts_without_aiogram(module: str) -> None:
    """Transitively too: importing the CLI loads no aiogram module."""
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiogram'))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
