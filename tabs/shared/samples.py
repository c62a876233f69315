"""Sample texts shipped in assets/samples: one file each, the title on the first line."""

from __future__ import annotations

from playground.core.paths import ASSETS


def load_samples() -> dict[str, str]:
    """{title: text}, ordered by file name, so '01-…' comes first and is the default."""
    samples = {}
    for path in sorted((ASSETS / "samples").glob("*.txt")):
        title, _, body = path.read_text(encoding="utf-8").partition("\n")
        samples[title.strip()] = body.strip("\n")
    return samples
