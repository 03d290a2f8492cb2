"""The sdist and wheel `python -m build` makes from this tree (the wheel built from the sdist, as
`build` does by default, so the sdist is complete): its metadata (name, the version written
once in paraminspect/__init__.py, the licence, the README as description, Python and extras)
and its package data (the HTML report's scripts, styles and d3-hierarchy's licence)."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

import paraminspect

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

pytest.importorskip("build", reason="the `build` package (in the test extra) makes the wheel")

ASSETS = ROOT / "paraminspect" / "render" / "assets"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build` on a copy of the tree (the build writes build/ and *.egg-info beside the
    sources: never into the checkout): the sdist, then the wheel from it. No isolation: the
    venv's setuptools, no index needed."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "paraminspect", src / "paraminspect", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> zipfile.ZipFile:
    (path,) = dist.glob("*.whl")
    assert path.name == f"paraminspect-{paraminspect.__version__}-py3-none-any.whl"
    return zipfile.ZipFile(path)


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    dist_info = f"paraminspect-{paraminspect.__version__}.dist-info"
    return email.message_from_string(wheel.read(f"{dist_info}/METADATA").decode("utf-8"))


def test_the_version_is_written_once_and_reaches_the_wheel(wheel):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    meta = _metadata(wheel)
    assert meta["Name"] == "paraminspect"
    assert meta["Version"] == paraminspect.__version__


def test_the_html_report_assets_and_licences_are_in_the_wheel(wheel):
    names = set(wheel.namelist())
    assets = sorted(p.name for p in ASSETS.iterdir() if p.is_file())
    assert {"d3-hierarchy.min.js", "d3-hierarchy.LICENSE", "report.js", "report.css"} <= set(assets)
    for name in assets:
        member = f"paraminspect/render/assets/{name}"
        assert member in names, member
        assert wheel.read(member) == (ASSETS / name).read_bytes()
    dist_info = f"paraminspect-{paraminspect.__version__}.dist-info"
    assert wheel.read(f"{dist_info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    assert f"{dist_info}/licenses/paraminspect/render/assets/d3-hierarchy.LICENSE" in names


def test_the_metadata_describes_the_project(wheel):
    meta = _metadata(wheel)
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in meta.get_all("License-File")
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().strip() == (ROOT / "README.md").read_text(encoding="utf-8").strip()
    assert {"test", "hf", "gguf", "docs"} <= set(meta.get_all("Provides-Extra"))
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("torch") for r in requires)
    assert any(r.startswith("mkdocs-material") and 'extra == "docs"' in r for r in requires)
    dist_info = f"paraminspect-{paraminspect.__version__}.dist-info"
    entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert "paraminspect = paraminspect.__main__:main" in entry_points


def test_the_wheel_holds_the_package_and_nothing_of_the_checkout(wheel):
    tops = {Path(name).parts[0] for name in wheel.namelist()}
    assert tops == {"paraminspect", f"paraminspect-{paraminspect.__version__}.dist-info"}
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "paraminspect").rglob("*.py")}
    assert sources <= set(wheel.namelist())


def test_the_sdist_holds_what_the_wheel_is_built_from(dist):
    (path,) = dist.glob("*.tar.gz")
    top = f"paraminspect-{paraminspect.__version__}"
    assert path.name == f"{top}.tar.gz"
    with tarfile.open(path) as sdist:
        names = set(sdist.getnames())
    for name in ("pyproject.toml", "README.md", "LICENSE", "PKG-INFO", "paraminspect/__init__.py"):
        assert f"{top}/{name}" in names, name
    assert {f"{top}/paraminspect/render/assets/{p.name}" for p in ASSETS.iterdir() if p.is_file()} <= names
