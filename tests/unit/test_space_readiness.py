"""The README's front matter is what a Hugging Face Space reads to build and run the app."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import gradio
import yaml

REPO = Path(__file__).resolve().parents[2]
SPACE_COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
SPACE_SDKS = {"gradio", "docker", "static", "streamlit"}


def front_matter() -> dict:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md must start with a --- YAML block ---"
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data


def test_front_matter_is_a_valid_space_config():
    meta = front_matter()
    assert meta["sdk"] in SPACE_SDKS and meta["sdk"] == "gradio"
    assert meta["colorFrom"] in SPACE_COLORS and meta["colorTo"] in SPACE_COLORS
    assert isinstance(meta["title"], str) and 0 < len(meta["title"]) <= 30
    assert isinstance(meta["emoji"], str) and len(meta["emoji"]) <= 2
    assert isinstance(meta.get("pinned", False), bool)
    assert len(meta.get("short_description", "")) <= 60


def test_front_matter_matches_what_the_project_runs():
    meta = front_matter()
    assert (REPO / meta["app_file"]).is_file()
    assert meta["sdk_version"] == gradio.__version__  # the Space installs the Gradio the tests ran on
    pinned = re.search(r"^gradio==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == meta["sdk_version"]
    assert str(meta["python_version"]) == f"{sys.version_info.major}.{sys.version_info.minor}"
