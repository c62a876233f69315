"""Where the project's shipped files live (notes, sample texts, techniques, datasets)."""

from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "assets"
