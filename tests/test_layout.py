"""The house rules of ``qa/``: one room per stage, data flowing one way, small modules and functions.

Rooms, bottom to top (a room imports only rooms below it, lazily or not)::

    lang, config, types, errors  ->  embed, ingest  ->  store  ->  index  ->  search  ->  answer
    ->  engine  ->  eval, server  ->  cli  ->  qa (the public face)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

QA = Path(__file__).resolve().parent.parent / "qa"
FLOORS = {
    "lang": 0,
    "config": 0,
    "types": 0,
    "errors": 0,
    "embed": 1,
    "ingest": 1,
    "store": 2,
    "index": 3,
    "search": 4,
    "answer": 5,
    "engine": 6,
    "eval": 7,
    "server": 7,
    "cli": 8,
    "__main__": 9,
    "": 9,  # qa/__init__.py
}
MAX_LINES = 400
MAX_COMPLEXITY = 15


def modules() -> dict[str, Path]:
    """Module name -> file, for every module of the package."""
    found = {}
    for path in QA.rglob("*.py"):
        parts = list(path.relative_to(QA.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (top level, lazily, or for types)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != name}


def room(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


GRAPH = {name: imports(name, path, set(modules())) for name, path in modules().items()}


def test_every_module_has_a_room() -> None:
    assert {room(m) for m in GRAPH} <= set(FLOORS)


def test_no_room_imports_a_room_above_it() -> None:
    upward = sorted(
        f"{a} -> {b}" for a, targets in GRAPH.items() for b in targets if FLOORS[room(b)] > FLOORS[room(a)]
    )
    assert upward == []


def test_no_import_circle() -> None:
    circles = []

    def visit(node: str, path: list[str], done: set[str]) -> None:
        for target in sorted(GRAPH[node]):
            if target in path:
                circles.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target], done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(GRAPH):
        if start not in done:
            visit(start, [start], done)
    assert circles == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_is_small(name: str) -> None:
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: it is probably two ideas"


def test_no_function_is_too_complex() -> None:
    from radon.complexity import cc_visit

    complex_ = [
        f"{path.relative_to(QA.parent)}:{block.lineno} {block.name} ({block.complexity})"
        for path in sorted(modules().values())
        for block in cc_visit(path.read_text(encoding="utf-8"))
        if block.complexity > MAX_COMPLEXITY
    ]
    assert complex_ == []
