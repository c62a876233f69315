"""Tabs stay layout, translation and wiring (docs/architecture.md): short functions, no tab importing another."""

from __future__ import annotations

import ast
from pathlib import Path

TABS = Path(__file__).resolve().parents[2] / "tabs"
MAX_LINES = 60


def function_lengths() -> dict[tuple[str, str], int]:
    lengths = {}
    for path in sorted(TABS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                key = (path.relative_to(TABS).as_posix(), node.name)
                lengths[key] = max(lengths.get(key, 0), node.end_lineno - node.lineno + 1)
    return lengths


def test_no_function_in_tabs_is_longer_than_the_limit():
    too_long = {key: length for key, length in function_lengths().items() if length > MAX_LINES}
    assert not too_long, f"functions in tabs/ over {MAX_LINES} lines (split layout, translation, wiring): {too_long}"


def test_no_tab_imports_another_tabs_modules():
    for path in TABS.rglob("*.py"):
        own = path.relative_to(TABS).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tabs."):
                imported = node.module.split(".")[1]
                assert imported in {own, "shared"}, f"{path.relative_to(TABS)} imports {node.module}"
