"""Fixtures of the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """One scratch folder per module: hypothesis cannot reset function-scoped fixtures between examples."""
    return tmp_path_factory.mktemp("properties")
