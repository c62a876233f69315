"""Does the running environment hold exactly the locked versions? ``python -m tools.lockcheck LOCK...``

The locks pin every package; this says, package by package, where the installed set differs, so an
upstream release or a hand-installed version fails loudly instead of changing behaviour silently.
Written here rather than taken from pip or uv: neither compares an environment with a requirements
file without installing (``uv pip sync --dry-run`` resolves torch from PyPI, not this machine's build).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Mismatch:
    """One locked package that is missing or at another version."""

    package: str
    locked: str
    installed: str | None
    lock_file: str

    def __str__(self) -> str:
        found = "is not installed" if self.installed is None else f"is {self.installed} here"
        return f"{self.package} {found}; {self.lock_file} locks {self.locked}"


def locked_requirements(path: Path) -> list[Requirement]:
    """The pinned requirements of one lock file: comments, includes (-c/-r) and options are skipped."""
    found = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise SystemExit(f"{path}:{number}: not a requirement ({error}): {raw!r}") from None
        pins = [spec for spec in requirement.specifier if spec.operator == "=="]
        if len(pins) != 1 or len(requirement.specifier) != 1:
            raise SystemExit(f"{path}:{number}: {requirement.name} is not pinned to one version (name==version).")
        found.append(requirement)
    return found


def installed_version(name: str) -> str | None:
    """The version the running interpreter imports: the first distribution of that name on sys.path."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def mismatches(lock_files: Sequence[Path],
               version_of: Callable[[str], str | None] = installed_version) -> list[Mismatch]:
    """Each locked package whose marker applies here and that is missing or at another version.
    A local label is the build's own (torch 2.13.0+cpu satisfies torch==2.13.0, as pip decides)."""
    found = []
    for lock_file in lock_files:
        for requirement in locked_requirements(lock_file):
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            (pin,) = requirement.specifier
            installed = version_of(requirement.name)
            if installed is None or not requirement.specifier.contains(installed, prereleases=True):
                found.append(Mismatch(canonicalize_name(requirement.name), pin.version, installed, str(lock_file)))
    return found


def main(argv: Iterable[str] | None = None) -> int:
    lock_files = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    if not lock_files:
        print("usage: python -m tools.lockcheck LOCK_FILE...", file=sys.stderr)
        return 2
    found = mismatches(lock_files)
    if not found:
        return 0
    print(f"The installed packages differ from the lock ({len(found)}):", file=sys.stderr)
    for mismatch in found:
        print(f"  {mismatch}", file=sys.stderr)
    print("Run `make clean` and the command again to install exactly the lock; to change a version on purpose,"
          " edit requirements.in and run `make lock` (README: 'The lock').", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
