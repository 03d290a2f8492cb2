"""Issue 32: sweeps split over a CI matrix. `check --shard K/N` (by stable hash or recorded
durations), `merge` joining the shards' JSON into the unsplit run's report and exit code, and
`check PATH --changed-since REF` (changed files and their importers, in a scratch git repo)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_process, sample
from test_reach import BUGS, FILES, _write

from paraminspect.commands.shard import assign

GLOB_RUN = ("timm:resnet1*d", sample("ci_example"), sample("bug_pi004"))


def _shards(run, args: tuple[str, ...], folder: Path, count: int = 3, extra: tuple[str, ...] = ()) -> list[Path]:
    """Each shard's JSON written to `folder`; every shard's exit code is 0, 1 or 2."""
    paths = []
    for k in range(1, count + 1):
        path = folder / f"shard-{k}.json"
        result = run(*args, "--shard", f"{k}/{count}", "-f", "json", "-o", str(path), *extra)
        assert result.code in (0, 1, 2), result.err
        assert f"shard {k}/{count}:" in result.err
        paths.append(path)
    return paths


def test_three_shards_of_a_glob_merge_to_the_unsplit_run(cli, tmp_path: Path):
    full = cli("check", *GLOB_RUN, "-f", "json")
    assert full.code == 1  # ci_example's PI002 warning, bug_pi004's PI004 error
    paths = _shards(cli, ("check", *GLOB_RUN), tmp_path)
    owned = [[r["spec"] for r in json.loads(p.read_text())["shard"]["results"]] for p in paths]
    models = json.loads(full.out)["summary"]["models"]
    assert sorted(s for specs in owned for s in specs) == sorted(json.loads(paths[0].read_text())["shard"]["models"])
    assert sum(len(specs) for specs in owned) == models == 5 and all(owned)  # each model once, no shard empty
    merged = cli("merge", *map(str, paths), "-f", "json")
    assert merged.code == full.code
    assert merged.out == full.out  # byte for byte: models, findings, order, summary
    text = cli("check", *GLOB_RUN)
    merged_text = cli("merge", *map(str, paths))
    assert (merged_text.code, merged_text.out) == (text.code, text.out)
    assert "Checked 5 models: 3 clean, 2 with findings, 0 failed." in merged_text.out
    github = cli("merge", *map(str, paths), "-f", "github")
    assert github.code == 1 and "title=PI004::" in github.out and "title=PI002::" in github.out


@pytest.fixture
def toynet(tmp_path: Path) -> Path:
    root = tmp_path / "toynet"
    for name, text in FILES.items():
        _write(root / name, text)
    return root


def test_three_shards_of_a_discovered_project_merge_to_the_unsplit_run(cli, toynet: Path, monkeypatch):
    monkeypatch.chdir(toynet)
    full = cli("check", "src", "-f", "json")
    doc = json.loads(full.out)
    assert full.code == 1 and doc["coverage"]["classes"] == 15
    paths = _shards(cli, ("check", "src"), toynet.parent)
    shard_docs = [json.loads(p.read_text()) for p in paths]
    # the builds are split: each built class in exactly one shard, all of them across the three
    built = sorted(r["spec"] for d in shard_docs for r in d["shard"]["results"])
    assert built == sorted(c["model"] for c in doc["classes"] if c["category"] == "built")
    assert len(set(built)) == len(built)
    # each shard reports its own builds; shard 1 also the classes no shard builds: each class once
    reported = sorted(c["model"] for d in shard_docs for c in d["classes"])
    assert reported == sorted(c["model"] for c in doc["classes"])
    merged = cli("merge", *map(str, paths), "-f", "json")
    assert merged.code == full.code
    assert json.loads(merged.out) == doc  # coverage, classes, findings (static ones once), failures
    assert merged.out == full.out
    bugs = {(f["file"], f["line"], f["code"], f["attribute"]) for f in json.loads(merged.out)["findings"]}
    assert bugs == BUGS
    text = cli("check", "src")
    merged_text = cli("merge", *map(str, paths))
    assert (merged_text.code, merged_text.out) == (text.code, text.out)
    assert "15 module classes in 2 files: 11 built, 2 as parts, 2 static only, 0 not checked." in merged_text.out
    sarif = json.loads(cli("merge", *map(str, paths), "-f", "sarif").out)
    assert len(sarif["runs"]) == 1
    assert sorted(
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in sarif["runs"][0]["results"]
    ) == sorted((code, line) for _file, line, code, _attr in BUGS)


def test_every_model_is_in_exactly_one_shard_and_durations_balance_them():
    specs = [f"timm:model_{i}" for i in range(23)]
    for count in (1, 2, 3, 7, 30):
        shards = assign(specs, count)
        assert shards == assign(list(specs), count)  # deterministic
        sizes = [shards.count(k) for k in range(1, count + 1)]
        assert sum(sizes) == len(specs) and max(sizes) - min(sizes) <= 1
    # durations: one slow model gets a shard of its own; the rest share the others evenly
    durations = {spec: 1.0 for spec in specs}
    durations[specs[5]] = 30.0
    shards = assign(specs, 3, durations)
    assert [s for s, k in zip(specs, shards, strict=True) if k == shards[5]] == [specs[5]]
    totals = [sum(durations[s] for s, k in zip(specs, shards, strict=True) if k == j) for j in (1, 2, 3)]
    assert sorted(totals) == [11.0, 11.0, 30.0]
    # a model the file does not know counts as the mean of those it knows
    assert assign([*specs, "timm:new"], 3, durations).count(shards[5]) == 1


def test_durations_are_stored_and_split_the_next_run(cli, tmp_path: Path):
    models = (sample("ci_example"), sample("bug_pi004"), sample("mlp"))
    durations = tmp_path / "durations.json"
    first = cli("check", *models, "--durations", str(durations), "--store-durations", "-f", "json")
    assert first.code == 1, first.err
    doc = json.loads(durations.read_text())
    assert doc["format"] == "paraminspect-durations" and doc["version"] == 1
    assert set(doc["durations"]) == set(models) and all(v > 0 for v in doc["durations"].values())
    doc["durations"] = {models[0]: 100.0, models[1]: 1.0, models[2]: 1.0}  # one slow model
    durations.write_text(json.dumps(doc))
    paths = _shards(cli, ("check", *models), tmp_path, count=2, extra=("--durations", str(durations)))
    owned = [{r["spec"] for r in json.loads(p.read_text())["shard"]["results"]} for p in paths]
    assert {models[0]} in owned and set(models) - {models[0]} in owned
    # merge records every shard's models at once
    merged_durations = tmp_path / "merged-durations.json"
    merged = cli("merge", *map(str, paths), "--durations", str(merged_durations), "--store-durations")
    assert merged.code == 1
    assert set(json.loads(merged_durations.read_text())["durations"]) == set(models)


@pytest.fixture
def two_shards(cli, tmp_path: Path) -> list[Path]:
    return _shards(cli, ("check", sample("ci_example"), sample("bug_pi004")), tmp_path, count=2)


def _merge_error(*paths: Path | str) -> str:
    result = run_process("merge", *map(str, paths), timeout=60)
    assert result.code == 2 and result.out == "", result
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


def test_merge_refuses_what_is_not_one_complete_split(cli, two_shards: list[Path], tmp_path: Path):
    one, two = two_shards
    assert "cannot read" in _merge_error(one, tmp_path / "absent.json")
    (tmp_path / "notjson.json").write_text("{nope")
    assert "is not JSON" in _merge_error(one, tmp_path / "notjson.json")
    (tmp_path / "show.json").write_text(cli("show", sample("mlp"), "-f", "json").out)
    assert "is not the JSON of `paraminspect check`" in _merge_error(one, tmp_path / "show.json")
    (tmp_path / "full.json").write_text(cli("check", sample("ci_example"), "-f", "json").out)
    assert "unsplit check" in _merge_error(tmp_path / "full.json")
    doc = json.loads(two.read_text())
    (tmp_path / "v2.json").write_text(json.dumps({**doc, "schema_version": 2}))
    assert "schema_version 2" in _merge_error(one, tmp_path / "v2.json")
    assert "are both shard 1/2" in _merge_error(one, one)
    assert "shard 2/2 is missing" in _merge_error(one)
    other = {**doc, "shard": {**doc["shard"], "models": [*doc["shard"]["models"], "x.py:y"], "plan": "0" * 64}}
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert "different runs" in _merge_error(one, tmp_path / "other.json")
    assert "--durations" in _merge_error(one, two, "--store-durations")
    ok = run_process("merge", str(one), str(two), timeout=60)
    assert ok.code == 1 and "bug_pi004" in ok.out


def test_bad_shard_options_are_one_line_and_exit_2(cli):
    for args, words in [
        (("--shard", "0/3"), "between 1 and N"),
        (("--shard", "4/3"), "between 1 and N"),
        (("--shard", "two"), "expected K/N"),
        (("--shard", "1/2", "--fix"), "--fix"),
        (("--store-durations",), "--durations"),
        (("--durations", "d.json"), "--shard"),
    ]:
        result = cli("check", sample("ci_example"), *args)
        assert result.code == 2 and result.out == "", (args, result)
        assert result.err.startswith("error: ") and words in result.err and result.err.count("\n") == 1


# --- --changed-since in a scratch git repository ---------------------------------------------

GIT = [
    "git",
    "-c",
    "user.name=t",
    "-c",
    "user.email=t@t",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]
BLOCK = "import torch\nfrom torch import nn\n\n\nclass {name}(nn.Module):\n    def __init__(self):\n"


def _cls(name: str, body: str = "self.scale = torch.ones(1)", imports: str = "") -> str:
    return imports + BLOCK.format(name=name) + "        super().__init__()\n        " + body + "\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    files = {
        "src/pkg/__init__.py": "",
        "src/pkg/base.py": _cls("Base"),
        "src/pkg/helpers.py": "from .base import Base\n\n\ndef make():\n    return Base()\n",  # no module class
        "src/pkg/net.py": _cls("Net", "self.part = make()", "from pkg.helpers import make\n"),
        "src/pkg/other.py": _cls("Other"),
        "src/pkg/old.py": _cls("Old"),
        "src/pkg/uses_old.py": _cls("UsesOld", "self.part = Old()", "from .old import Old\n"),
        "src/pkg/moved.py": _cls("Moved"),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "one")
    return root


def _changed(repo: Path, *args: str) -> tuple[int, dict, str]:
    result = run_process("check", "src", "--static", "-f", "json", *args, cwd=repo, timeout=60)
    return result.code, json.loads(result.out) if result.out else {}, result.err


def test_changed_since_checks_changed_files_and_their_importers(repo: Path):
    code, doc, err = _changed(repo, "--changed-since", "HEAD")
    assert code == 0 and doc["coverage"]["classes"] == 0 and doc["findings"] == []
    assert "no changed files since HEAD" in err
    (repo / "src/pkg/base.py").write_text(_cls("Base", "self.scale = torch.zeros(2)"))  # changed
    code, doc, err = _changed(repo, "--changed-since", "HEAD")
    # base.py changed; helpers.py imports it (no module class), net.py imports helpers: both reached
    assert sorted(c["model"] for c in doc["classes"]) == ["src/pkg/base.py:Base", "src/pkg/net.py:Net"]
    assert code == 1 and {f["model"] for f in doc["findings"]} == {"src/pkg/base.py:Base"}
    _git(repo, "commit", "-qam", "two")
    _git(repo, "rm", "-q", "src/pkg/old.py")  # deleted: its importer is checked
    _git(repo, "mv", "src/pkg/moved.py", "src/pkg/renamed.py")  # renamed: the new file is checked
    (repo / "src/pkg/fresh.py").write_text(_cls("Fresh"))  # untracked: checked
    code, doc, err = _changed(repo, "--changed-since", "HEAD")
    assert sorted(c["model"] for c in doc["classes"]) == [
        "src/pkg/fresh.py:Fresh",
        "src/pkg/renamed.py:Moved",
        "src/pkg/uses_old.py:UsesOld",
    ]
    assert "4 Python files changed since HEAD" in err  # old.py, moved.py (gone), renamed.py, fresh.py
    # since the first commit: base.py's change too (the ref is compared from where HEAD left it)
    code, doc, err = _changed(repo, "--changed-since", "HEAD~1")
    assert "src/pkg/base.py:Base" in {c["model"] for c in doc["classes"]}
    assert "src/pkg/other.py:Other" not in {c["model"] for c in doc["classes"]}


def test_changed_since_a_bad_ref_or_outside_git_is_one_line_exit_2(repo: Path, tmp_path: Path):
    result = run_process("check", "src", "--static", "--changed-since", "no-such-ref", cwd=repo, timeout=60)
    assert result.code == 2 and result.err.count("\n") == 1 and "no-such-ref" in result.err
    plain = tmp_path / "plain"
    (plain / "src").mkdir(parents=True)
    (plain / "src" / "m.py").write_text(_cls("M"))
    result = run_process("check", "src", "--static", "--changed-since", "main", cwd=plain, timeout=60)
    assert result.code == 2 and result.err.count("\n") == 1 and "not in a git repository" in result.err
    result = run_process("check", sample("ci_example"), "--changed-since", "HEAD", cwd=ROOT, timeout=60)
    assert result.code == 2 and "check src/ --changed-since" in result.err


def test_merge_imports_no_torch(two_shards: list[Path]):
    code = (
        "import sys\nfrom paraminspect.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
        "    print(e.code, 'torch' in sys.modules, file=sys.stderr)"
    )
    for fmt in ("text", "json", "sarif", "github"):
        args = [sys.executable, "-c", code, "merge", *map(str, two_shards), "-f", fmt]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert result.stderr.splitlines()[-1] == "1 False", (fmt, result.stderr)


def test_a_model_killed_at_the_timeout_is_recorded_as_taking_the_timeout(cli, tmp_path: Path):
    slow = tmp_path / "slow.py"
    slow.write_text("import time\n\n\ndef build():\n    time.sleep(60)\n")
    durations = tmp_path / "durations.json"
    result = cli("check", f"{slow}:build", "--timeout", "1", "--durations", str(durations), "--store-durations")
    assert result.code == 2 and "timed out" in result.err
    assert json.loads(durations.read_text())["durations"] == {f"{slow}:build": 1.0}


def test_import_statements_are_read_in_every_spelling(tmp_path: Path):
    from paraminspect.discover.changed import _imported

    source = tmp_path / "here.py"
    source.write_text(
        "import os, a.b as c\n"
        "from . import x, y as z\n"
        "from ..pkg.mod import (\n    One,\n    Two as T,  # comment\n)\n"
        "from m import n \\\n    , o\n"
        "def f():\n    import lazy.mod\n"
    )
    assert _imported(str(source), "top.sub.here", False) == [
        "os", "a.b", "top.sub", "top.sub.x", "top.sub.y", "top.pkg.mod", "top.pkg.mod.One", "top.pkg.mod.Two",
        "m", "m.n", "m.o", "lazy.mod",
    ]  # fmt: skip
    # in a package's __init__.py, `from . import x` is relative to the package itself
    assert _imported(str(source), "top.sub", True)[2:4] == ["top.sub", "top.sub.x"]
