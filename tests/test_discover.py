"""`paraminspect check PATH`: the nn.Module classes a project's files define, checked with no
factory named. A scratch project in tmp_path (a src/ package with relative imports, a flat
package), the CLI in-process (each class is still built in a model process of its own), and real
processes where the process is the point: no torch import, the pre-commit hook's command."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, run_process

from paraminspect.config import parse_table
from paraminspect.discover.files import find_files, is_path_spec, may_define_module_class
from paraminspect.errors import UsageError

PYPROJECT = """
[tool.paraminspect]
exclude = ["src/nets/legacy.py", "scratch"]

[tool.paraminspect.args]
"src/nets/models.py:Sized" = { dim = 4 }
"""

COMMON = """
from torch import nn


class Block(nn.Module):
    def __init__(self, dim: int = 4):
        super().__init__()
        self.lin = nn.Linear(dim, dim)
"""

MODELS = """
import abc

import torch
from torch import nn

from .common import Block


class Clean(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()


class Buggy(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [nn.Linear(2, 2)]
        self.scale = torch.ones(3)


class NeedsArgs(nn.Module):
    def __init__(self, dim, depth=2, *, heads):
        super().__init__()


class Sized(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.lin = nn.Linear(dim, dim)
        self.cache = [torch.zeros(dim)]


class Raises(nn.Module):
    def __init__(self):
        super().__init__()
        raise RuntimeError("needs a config file")


class Base(nn.Module, abc.ABC):
    @abc.abstractmethod
    def forward(self, x): ...


Alias = Clean
"""

BUGGY = """
from torch import nn


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = {"a": nn.Linear(2, 2)}
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """src/nets (a package: models.py imports .common), files that the skip rules leave out,
    and a file that defines no module class."""
    root = tmp_path / "proj"
    _write(root / "pyproject.toml", PYPROJECT)
    _write(root / "src/nets/__init__.py", "")
    _write(root / "src/nets/common.py", COMMON)
    _write(root / "src/nets/models.py", MODELS)
    _write(root / "src/nets/consts.py", "SIZE = 4\n\n\nclass Config:\n    dim = 4\n")
    _write(root / "src/nets/legacy.py", BUGGY)  # exclude glob
    _write(root / "scratch/try.py", BUGGY)  # exclude glob on a folder name
    _write(root / "tests/test_nets.py", BUGGY)  # tests/ by default
    _write(root / "src/nets/test_models.py", BUGGY)  # a test file
    _write(root / ".cache/gen.py", BUGGY)  # hidden folder
    _write(root / "env/lib/site.py", BUGGY)  # a virtualenv (pyvenv.cfg)
    _write(root / "env/pyvenv.cfg", "home = /usr/bin\n")
    return root


# --- file search and the pre-filter: no import -------------------------------------------------


def test_prefilter_reads_source_for_class_statements_with_bases():
    assert not may_define_module_class(b"import torch\nx = torch.ones(2)\n")
    assert not may_define_module_class(b"class Config:\n    dim = 4\n")
    assert not may_define_module_class(b"class Oops(ValueError):\n    pass\nclass Mode(enum.Enum):\n    A = 1\n")
    assert not may_define_module_class(b"class A(Exception): ...\nclass B(A): ...\n")  # a local chain
    assert may_define_module_class(b"class Net(nn.Module):\n    pass\n")
    assert may_define_module_class(b"from .common import Block\nclass Big(Block):\n    pass\n")
    assert may_define_module_class(b"class A(Base): ...\nclass B(A): ...\n")
    assert may_define_module_class(b"class Broken(nn.Module:\n")  # unparsable: its import will say why
    assert not may_define_module_class(b'"""class Net(nn.Module)"""\n')  # only in a string


def test_find_files_honours_exclude_and_default_skips(project: Path):
    config = parse_table(project / "pyproject.toml", {"exclude": ["src/nets/legacy.py", "scratch"]})
    search = find_files([str(project)], project, config.exclude)
    found = sorted(p.relative_to(project).as_posix() for p in search.files)
    assert found == ["src/nets/__init__.py", "src/nets/common.py", "src/nets/consts.py", "src/nets/models.py"]
    assert search.looked_at == 4


def test_named_paths_are_checked_unless_force_exclude(project: Path):
    """What the user names is checked (issue 33: `check tests/test_models.py` must not skip
    it); the skip rules apply to what is found below it, and to the named paths too with
    --force-exclude (the pre-commit hook)."""
    named = [str(project / "tests/test_nets.py"), str(project / "src/nets/legacy.py")]
    given = find_files(named, project, ["*/legacy.py"])
    assert [p.relative_to(project).as_posix() for p in given.files] == ["tests/test_nets.py", "src/nets/legacy.py"]
    assert given.skipped_given == ()
    forced = find_files(named, project, ["*/legacy.py"], force_exclude=True)
    assert forced.files == ()
    assert [why for _, why in forced.skipped_given] == ["in a tests/ folder", "excluded by '*/legacy.py'"]
    _write(project / "tests/helpers/nets.py", BUGGY)
    _write(project / "tests/helpers/test_more.py", BUGGY)
    below = find_files([str(project / "tests")], project)  # a named tests/ folder: its tests too
    assert sorted(p.relative_to(project).as_posix() for p in below.files) == [
        "tests/helpers/nets.py",
        "tests/helpers/test_more.py",
        "tests/test_nets.py",
    ]
    hidden = find_files([str(project / "src")], project, ["models.py"])  # below a named folder: filtered
    assert "src/nets/models.py" not in {p.relative_to(project).as_posix() for p in hidden.files}


def test_path_specs_and_bad_paths(project: Path):
    assert is_path_spec(str(project / "src")) and is_path_spec("src/nets/models.py")
    assert not is_path_spec("src/nets/models.py:Buggy") and not is_path_spec("resnet50")
    _write(project / "hf-model/config.json", "{}")  # a Hugging Face folder is a model, not a path
    assert not is_path_spec(str(project / "hf-model"))
    with pytest.raises(UsageError, match="no such file or folder: nope/"):
        find_files(["nope/"], project)


def test_args_table_is_validated(tmp_path: Path):
    path = tmp_path / "pyproject.toml"
    config = parse_table(path, {"args": {"a.py:Net": {"dim": 4}, "src/*.py:*": {"depth": 1}}})
    assert config.args_for("a.py:Net") == {"dim": 4}
    assert config.args_for("src/m.py:X") == {"depth": 1} and config.args_for("b.py:Net") == {}
    with pytest.raises(UsageError, match="must be a table of keyword arguments"):
        parse_table(path, {"args": {"a.py:Net": 4}})


# --- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def within(cli, monkeypatch: pytest.MonkeyPatch):
    """The in-process CLI, run from a given folder."""

    def run(folder: Path, *args: str):
        monkeypatch.chdir(folder)
        return cli(*args)

    return run


def test_check_src_reports_findings_failures_and_skipped_classes(project: Path, within):
    result = within(project, "check", "src/", "-j", "1")
    assert result.code == 1, result.err  # findings; the classes that cannot be built are not exit 2
    out = result.out
    assert "src/nets/models.py:Buggy" in out and "PI004" in out and "PI002" in out
    assert "src/nets/models.py:Sized" in out and "PI003" in out  # built with dim=4 from the args table
    assert "Failures: 1 module class could not be built" in out
    assert "src/nets/models.py:Raises: class Raises raised RuntimeError: needs a config file" in out
    assert "Base" not in out  # abstract: read by the static pass only, not a failure
    assert "Not built: 1 module class needs arguments that were not found" in out
    assert (
        "src/nets/models.py:NeedsArgs needs dim, heads: give them in pyproject.toml under [tool.paraminspect.args] "
        '("src/nets/models.py:NeedsArgs" = "NeedsArgs(dim=..., heads=...)")'
    ) in out
    assert (
        "7 module classes in 2 files: 4 built, 0 as parts, 3 static only, 0 not checked; 1 could not be built." in out
    )
    assert "Found 3 findings (2 errors, 1 warning) in 2 module classes; 3 at or above --fail-on warning." in out
    # only classes defined in the file: Block is listed under common.py, Alias is Clean
    assert "models.py:Block" not in out and "Alias" not in out
    reported = "\n".join(line for line in out.splitlines() if " | " not in line)  # not the quoted source lines
    for left_out in ("legacy", "scratch", "test_nets", "test_models", ".cache", "env/lib"):
        assert left_out not in reported


def test_check_path_json_and_strict(project: Path, within):
    result = within(project, "check", "src/nets/models.py", "--format", "json", "--strict", "-j", "1")
    assert result.code == 2  # --strict: a class that cannot be built fails the run
    doc = json.loads(result.out)
    assert [s["model"] for s in doc["skipped"]] == ["src/nets/models.py:NeedsArgs"]
    assert doc["skipped"][0]["reason"].startswith("src/nets/models.py:NeedsArgs needs dim, heads: give them")
    assert [f["model"] for f in doc["failures"]] == ["src/nets/models.py:Raises"]
    models = {f["model"] for f in doc["findings"]}
    assert models == {"src/nets/models.py:Buggy", "src/nets/models.py:Sized"}
    assert {f["file"] for f in doc["findings"]} == {"src/nets/models.py"}
    assert {f["evidence"] for f in doc["findings"]} == {"built"}  # the static ones were the same: one each
    assert doc["summary"]["models"] == 4 and doc["summary"]["skipped"] == 1 and doc["summary"]["failed"] == 1
    assert doc["coverage"] == {"classes": 6, "built": 3, "as_part": 0, "static_only": 3, "not_checked": 0}
    categories = {c["model"].split(":")[1]: c["category"] for c in doc["classes"]}
    assert categories == {
        "Clean": "built", "Buggy": "built", "Sized": "built",
        "NeedsArgs": "static_only", "Raises": "static_only", "Base": "static_only",
    }  # fmt: skip
    sized = next(c for c in doc["classes"] if c["model"].endswith(":Sized"))
    assert sized["arguments"] == {"kind": "args-table", "file": "pyproject.toml", "line": 5}
    base = next(c for c in doc["classes"] if c["model"].endswith(":Base"))
    assert base["reason"] == "abstract class (abstract methods: forward): it cannot be built"
    assert "warning: src/nets/models.py:Raises" not in result.err and "error: src/nets/models.py:Raises" in result.err


def test_flat_layout_from_a_subfolder_with_a_file_that_cannot_be_imported(project: Path, within):
    """A package at the project root (flat layout), checked from inside it; a file whose
    import fails is an error (exit 2) listed apart, and the other files are still checked."""
    _write(project / "flat/__init__.py", "")
    _write(project / "flat/parts.py", COMMON)
    _write(project / "flat/net.py", "from .parts import Block\n\n\nclass Net(Block):\n    pass\n")
    _write(project / "flat/broken.py", "from .missing import Thing\n\n\nclass X(Thing):\n    pass\n")
    result = within(project / "flat", "check", ".", "-j", "1")
    assert result.code == 2, result.err
    assert "  cannot import broken.py (as flat.broken): ModuleNotFoundError" in result.out
    assert (
        "3 module classes in 3 files: 2 built, 0 as parts, 0 static only, 1 not checked; "
        "1 file could not be read or imported." in result.out
    )


def test_file_spec_of_a_package_file_imports_relative_imports(tmp_path: Path, cli, monkeypatch):
    """`path/file.py:attr` imports a package file as part of its package (in the child)."""
    _write(tmp_path / "src/relpkg_spec/__init__.py", "")
    _write(tmp_path / "src/relpkg_spec/common.py", COMMON)
    _write(tmp_path / "src/relpkg_spec/models.py", MODELS)
    monkeypatch.chdir(tmp_path)
    result = cli("check", "src/relpkg_spec/models.py:Buggy", "-f", "json")
    assert result.code == 1, result.err
    assert {f["code"] for f in json.loads(result.out)["findings"]} == {"PI002", "PI004"}
    assert "relpkg_spec.models" not in sys.modules  # imported in the child, never by the CLI
    usage = cli("check", "src/", "-a", "dim=4")
    assert usage.code == 2 and "[tool.paraminspect.args]" in usage.err
    _write(tmp_path / "src/relpkg_spec/consts.py", "SIZE = 4\n")
    empty = cli("check", "src/relpkg_spec/consts.py", "-f", "json")  # nothing to check: still valid JSON
    assert empty.code == 0 and json.loads(empty.out)["summary"]["models"] == 0
    assert empty.err == "note: no nn.Module class is defined in src/relpkg_spec/consts.py (1 Python file looked at)\n"


def test_no_module_class_is_one_note_and_exit_0(project: Path):
    result = run_process(
        "check", "src/nets/consts.py", "tests/", "--force-exclude", cwd=project, env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert result.code == 0 and result.out == ""
    notes = [line for line in result.err.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: skipped tests/ (in a tests/ folder): --force-exclude applies the skip rules to the paths named",
        "note: no nn.Module class is defined in src/nets/consts.py, tests/ (1 Python file looked at)",
    ]
    assert not any(line.rstrip().endswith("| torch") for line in result.err.splitlines())  # never imported


def test_a_named_test_file_is_checked(project: Path, within):
    """Issue 33: `check tests/test_nets.py` checks it (it used to say "skipped" and then that
    no class is defined, and exit 0)."""
    result = within(project, "check", "tests/test_nets.py", "-f", "json")
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    assert [(f["model"], f["code"]) for f in doc["findings"]] == [("tests/test_nets.py:Inner", "PI004")]
    assert doc["coverage"] == {"classes": 1, "built": 1, "as_part": 0, "static_only": 0, "not_checked": 0}
    assert "skipped" not in result.err


# --- the pre-commit hook ---------------------------------------------------------------------


def _hook(hook_id: str) -> dict[str, object]:
    """One hook of .pre-commit-hooks.yaml (a flat list of `key: value` entries)."""
    hooks: list[dict[str, object]] = []
    for line in (ROOT / ".pre-commit-hooks.yaml").read_text().splitlines():
        if line.startswith("- id:"):
            hooks.append({"id": line.split(":", 1)[1].strip()})
        elif line.startswith("  ") and ":" in line and hooks:
            key, value = line.strip().split(":", 1)
            hooks[-1][key] = value.strip()
    return next(h for h in hooks if h["id"] == hook_id)


def test_files_hook_checks_the_changed_files(project: Path):
    hook = _hook("paraminspect-check-files")
    assert hook["pass_filenames"] == "true" and hook["types"] == "[python]"
    entry = shlex.split(str(hook["entry"]))
    assert entry[0] == "paraminspect"
    command = [sys.executable, "-m", "paraminspect", *entry[1:]]
    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    _write(project / "src/nets/common.py", COMMON + BUGGY.replace("from torch import nn", ""))
    changed = ["src/nets/consts.py", "src/nets/common.py", "tests/test_nets.py"]  # as pre-commit passes them
    done = subprocess.run([*command, *changed], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "src/nets/common.py:Inner" in done.stdout and "PI004" in done.stdout
    assert "2 module classes in 1 file: 2 built, 0 as parts, 0 static only, 0 not checked." in done.stdout
    assert "skipped tests/test_nets.py (in a tests/ folder)" in done.stderr  # the hook passes --force-exclude
