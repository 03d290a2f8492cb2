"""Repeated runs answer from the result cache: same output, same exit code, no torch import;
any change to an input (a source file the build imported, the command line) runs again.

The first test runs real processes (a cached answer imports no torch); the others call the
CLI in-process from the project's folder: each build still runs in a model process of its
own (counted by the factory's .runs file), and the cache is the same code either way."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, run_process

from paraminspect.cache import ENTRY_FOLDER

FACTORY = """
import torch
from torch import nn
from layers import width

with open(__file__ + ".runs", "a") as fh:  # one line per real build
    fh.write("built\\n")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(width(), 2)
        {extra}


def build():
    return Net()
"""


def _project(tmp_path: Path, extra: str = "pass") -> Path:
    (tmp_path / "layers.py").write_text("def width():\n    return 4\n")
    (tmp_path / "model.py").write_text(textwrap.dedent(FACTORY).replace("{extra}", extra))
    return tmp_path


@pytest.fixture
def here(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The in-process CLI, run from tmp_path (where the project is)."""
    monkeypatch.chdir(tmp_path)
    return cli


def _builds(tmp_path: Path) -> int:
    runs = tmp_path / "model.py.runs"
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def test_repeated_check_answers_from_the_cache_without_torch(tmp_path: Path) -> None:
    _project(tmp_path, "self.mask = torch.ones(2)")
    first = run_process("check", "model.py:build", cwd=tmp_path)
    assert first.code == 1 and "PI002" in first.out
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "paraminspect", "check", "model.py:build"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ),  # as run_process had it: PYTHONPATH is part of the key
        timeout=120,
    )
    assert (proc.returncode, proc.stdout) == (first.code, first.out)
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line]
    assert "torch" not in imported and "paraminspect.cache" in imported
    assert _builds(tmp_path) == 1


def test_edit_of_an_imported_sibling_runs_again(here, tmp_path: Path) -> None:
    _project(tmp_path)
    assert here("show", "model.py:build", "-f", "json").code == 0
    (tmp_path / "layers.py").write_text("def width():\n    return 8   # wider\n")
    again = here("show", "model.py:build", "-f", "json")
    assert again.code == 0 and '"numel": 16' in again.out
    assert _builds(tmp_path) == 2


def test_edit_of_the_factory_file_runs_again(here, tmp_path: Path) -> None:
    _project(tmp_path)
    assert here("check", "model.py:build").code == 0
    model = tmp_path / "model.py"
    model.write_text(model.read_text().replace("        pass", "        self.mask = torch.ones(2)"))
    again = here("check", "model.py:build")
    assert again.code == 1 and "PI002" in again.out
    assert _builds(tmp_path) == 2


@pytest.mark.parametrize("flags", [["--no-cache"], ["--run"], ["-a", "unused=1"]])
def test_no_cache_run_and_other_arguments_build_again(here, tmp_path: Path, flags: list[str]) -> None:
    _project(tmp_path)
    base = ["check", "model.py:build"]
    assert here(*base).code == 0
    here(*base, *flags)
    assert _builds(tmp_path) == 2


def test_output_file_is_written_again_from_the_cache(here, tmp_path: Path) -> None:
    _project(tmp_path, "self.mask = torch.ones(2)")
    out = tmp_path / "report.json"
    first = here("check", "model.py:build", "-f", "json", "-o", str(out))
    content = out.read_text()
    out.unlink()
    again = here("check", "model.py:build", "-f", "json", "-o", str(out))
    assert (again.code, out.read_text()) == (first.code, content) and first.code == 1
    assert _builds(tmp_path) == 1


def test_corrupt_entries_are_ignored(here, tmp_path: Path) -> None:
    _project(tmp_path)
    cache = Path(os.environ["PARAMINSPECT_CACHE_DIR"])
    assert here("check", "model.py:build").code == 0
    for entry in (cache / ENTRY_FOLDER).glob("*.json"):
        entry.write_text('{"format": 2, "key": "' + entry.stem + '", "run": {"stdout": "forged", "exit_code": 0}}')
    again = here("check", "model.py:build")
    assert again.code == 0 and "forged" not in again.out
    assert _builds(tmp_path) == 2


def test_cache_folder_sits_beside_the_pyproject_with_its_own_gitignore(
    here, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.delenv("PARAMINSPECT_CACHE_DIR")
    monkeypatch.chdir(sub)
    result = here("check", "../model.py:build")
    assert result.code == 0, result.err
    assert (tmp_path / ".paraminspect_cache" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert list((tmp_path / ".paraminspect_cache" / ENTRY_FOLDER).glob("*.json"))  # the run was stored there


def test_failures_are_not_cached(here, tmp_path: Path) -> None:
    source = "def build():\n    open(__file__ + '.runs', 'a').write('x\\n')\n    raise ValueError('no')\n"
    (tmp_path / "model.py").write_text(source)
    runs = tmp_path / "model.py.runs"
    assert here("check", "model.py:build").code == 2
    once = len(runs.read_text().splitlines())  # tried on meta, then on CPU
    assert here("check", "model.py:build").code == 2
    assert len(runs.read_text().splitlines()) == 2 * once


def test_folders_to_discover_are_never_cached(here, tmp_path: Path) -> None:
    # New files in a folder are not imported modules of an earlier run: a cached answer would miss them.
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text(
        "from torch import nn\n\nclass A(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    )
    (tmp_path / "pyproject.toml").write_text('[tool.paraminspect]\nmodels = ["src"]\n')
    assert here("check").code == 0
    (src / "b.py").write_text(
        "import torch\nfrom torch import nn\n\nclass B(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.mask = torch.ones(2)\n"
    )
    again = here("check")
    assert again.code == 1 and "PI002" in again.out


def test_an_edit_to_paraminspect_itself_is_a_miss(tmp_path: Path) -> None:
    """An editable install keeps its version number while its code changes: the key covers
    paraminspect's own files, so a changed renderer never replays what the old one printed."""
    import shutil

    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "paraminspect", copy / "paraminspect", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "project").mkdir()
    project = _project(tmp_path / "project")
    env = {"PYTHONPATH": str(copy)}  # the copy's paraminspect, not the installed one
    first = run_process("check", "model.py:build", cwd=project, env=env)
    again = run_process("check", "model.py:build", cwd=project, env=env)
    assert (again.code, again.out) == (first.code, first.out)
    assert _builds(project) == 1  # answered from the cache
    renderer = copy / "paraminspect" / "render" / "findings.py"
    renderer.write_text(renderer.read_text() + "\n# edited\n")
    edited = run_process("check", "model.py:build", cwd=project, env=env)
    assert (edited.code, edited.out) == (first.code, first.out)
    assert _builds(project) == 2  # the edit was seen: a real run
