"""The lock: every installed package is the locked version, a moved one is named, and make follows the lock.

Drift is what broke a fresh clone once (an upstream release under an unpinned transitive dependency), so
these tests run the check the way `make test` does, in real virtual environments.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tools.lockcheck import locked_requirements, mismatches

ROOT = Path(__file__).resolve().parents[2]
LOCKS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt", ROOT / "requirements-models.txt"]


def lock_check(python: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "tools.lockcheck", *map(str, LOCKS)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def venv_over_this_one(folder: Path) -> tuple[Path, Path]:
    """A real venv whose interpreter also sees this environment's packages (through a .pth file), so a
    package installed into it shadows this one's, as a package upgraded in place would."""
    venv.create(folder, with_pip=False)
    python = folder / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", where], text=True).strip())
    (site / "this_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python, site


def install_fake_version(site: Path, name: str, version: str) -> None:
    """What pip leaves for an installed distribution: a dist-info folder with its METADATA."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")


def test_every_lock_line_is_one_exact_version_and_torch_is_the_plain_release():
    app = {canonicalize_name(r.name): r for r in locked_requirements(LOCKS[0])}
    assert len(app) > 80  # the transitive packages are there, not only the two dozen direct ones
    assert str(app["torch"].specifier) == "==2.13.0"  # no +cpu: a Space takes its CUDA build from PyPI
    assert not any(name.startswith("nvidia-") or name == "triton" for name in app)  # left to torch's own build
    for name in ("httpx2", "httpcore2", "numpy", "pydantic", "fastapi", "starlette"):
        assert name in app, f"{name} is installed but not locked"


def test_the_dev_lock_agrees_with_the_app_lock_on_every_shared_package():
    app = {canonicalize_name(r.name): (str(r.specifier), str(r.marker)) for r in locked_requirements(LOCKS[0])}
    dev = {canonicalize_name(r.name): (str(r.specifier), str(r.marker)) for r in locked_requirements(LOCKS[1])}
    shared = app.keys() & dev.keys()
    assert {"packaging", "pygments"} <= shared
    assert {name: dev[name] for name in shared} == {name: app[name] for name in shared}


def test_this_environment_holds_exactly_the_lock():
    result = lock_check(Path(sys.executable))
    assert result.returncode == 0, result.stderr


def test_a_venv_with_one_package_moved_fails_naming_that_package(tmp_path):
    python, site = venv_over_this_one(tmp_path / "venv")
    assert lock_check(python).returncode == 0  # the same packages seen through the .pth: nothing moved yet
    install_fake_version(site, "tokenizers", "0.23.2")
    result = lock_check(python)
    assert result.returncode == 1
    assert "tokenizers is 0.23.2 here; " in result.stderr and "locks 0.23.3" in result.stderr
    assert result.stderr.count("\n  ") == 1  # that package alone


def test_a_missing_package_and_a_local_build_label_are_told_apart():
    versions = {"torch": "2.13.0+cpu", "tokenizers": None}
    found = mismatches([LOCKS[0]], lambda name: versions.get(canonicalize_name(name), "0"))
    named = {m.package: m for m in found}
    assert "torch" not in named  # the machine's own build of the locked release
    assert named["tokenizers"].installed is None and "is not installed" in str(named["tokenizers"])


def test_a_lock_line_without_an_exact_version_is_refused_with_its_line(tmp_path):
    lock = tmp_path / "requirements.txt"
    lock.write_text("# fine\nrich==15.0.0\nsafetensors>=0.5\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"requirements.txt:3: safetensors is not pinned"):
        locked_requirements(lock)


@pytest.mark.parametrize("change_lock", [False, True])
def test_make_rebuilds_the_venv_when_the_lock_changes_and_only_then(tmp_path, change_lock):
    """The stamp is named by the locks' content: an old .venv is built again, not trusted."""
    for name in ("Makefile", *(lock.name for lock in LOCKS)):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    stamp = subprocess.run(["make", "-s", "-p", "-n", "check-lock"], cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, "MAKEFLAGS": ""}).stdout
    stamp_name = next(line.split(":=")[1].strip() for line in stamp.splitlines() if line.startswith("STAMP :="))
    stamp_path = (tmp_path / stamp_name.replace("$(VENV)", ".venv"))
    stamp_path.parent.mkdir(parents=True)
    stamp_path.touch()
    if change_lock:
        with (tmp_path / "requirements.txt").open("a", encoding="utf-8") as lock:
            lock.write("six==1.16.0\n")
    planned = subprocess.run(["make", "-n", "check-lock"], cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "MAKEFLAGS": ""}).stdout
    assert ("rm -rf .venv" in planned) is change_lock
    assert "tools.lockcheck" in planned  # checked on every run, rebuilt or not
