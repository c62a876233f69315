"""Benchmarks: ``python -m bench <name>``; each compares against a baseline in one run.

Every benchmark returns a Markdown section; ``--write`` puts it into docs/benchmarks.md (or the
document its module names as ``DOC``, e.g. docs/reliability.md for ``load``) between markers of its
own, so re-running one benchmark replaces only its section.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine_line() -> str:
    import os

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads")


def write_section(name: str, markdown: str, doc: Path = DOC, header: str = "# Benchmarks\n") -> None:
    """Replace (or append) the ``name`` section of ``doc`` (the benchmarks document unless a
    benchmark names another); a missing document starts with ``header``."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = doc.read_text(encoding="utf-8") if doc.exists() else header
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
