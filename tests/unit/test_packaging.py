"""pyproject.toml promises the Python versions the code actually runs on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "app.py", *(path for folder in ("playground", "tabs", "bench")
                             for path in (ROOT / folder).rglob("*.py"))]
NEEDS = {"tomllib": (3, 11)}
"""Standard-library modules the code imports that older Pythons lack, and the version that added each."""


def minimum_python() -> tuple[int, int]:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    match = re.fullmatch(r"\s*>=\s*(\d+)\.(\d+)\s*", spec)
    assert match, f"requires-python should be a plain '>=X.Y', got {spec!r}"
    return int(match.group(1)), int(match.group(2))


def test_requires_python_is_new_enough_for_the_stdlib_modules_imported():
    imported = {module for module in NEEDS for path in SOURCES
                if re.search(rf"^\s*import {module}\b", path.read_text(encoding="utf-8"), re.MULTILINE)}
    assert "tomllib" in imported  # playground/prompting/techniques.py reads the technique files with it
    assert minimum_python() >= max(NEEDS[module] for module in imported)
