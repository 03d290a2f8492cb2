"""[tool.paraminspect] in pyproject.toml: discovery, strict validation, and how `check` uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES

from paraminspect.config import find_pyproject, load_config, parse_table, resolve_model_path
from paraminspect.errors import UsageError

CI_EXAMPLE = (SAMPLES / "ci_example.py").read_text()


def _project(root: Path, table: str, model_file: str | None = "models/net.py") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.paraminspect]\n' + table)
    if model_file is not None:
        path = root / model_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(CI_EXAMPLE)
    return root


def test_valid_table_is_parsed(tmp_path):
    root = _project(
        tmp_path,
        'models = ["models/net.py:build"]\nselect = ["PI00"]\nignore = ["pi010"]\nfail-on = "error"\n'
        'allow = ["scale"]\n[tool.paraminspect.per-model-ignores]\n"models/*" = ["PI004"]\n',
    )
    config = load_config(root / "models")
    assert config.path == root / "pyproject.toml"
    assert config.models == ("models/net.py:build",)
    assert config.select == ("PI00",) and config.ignore == ("PI010",)
    assert config.fail_on == "error" and config.allow == ("scale",)
    assert config.ignores_for("models/net.py:build") == ["PI004"]
    assert config.ignores_for("timm:resnet50") == []


def test_the_nearest_pyproject_is_the_project_root(tmp_path):
    """Issue 27.8: the nearest pyproject.toml is the project's, with or without the table: a
    parent folder's configuration never applies."""
    outer = _project(tmp_path, 'fail-on = "info"\n', model_file=None)
    inner = outer / "pkg"
    inner.mkdir()
    assert find_pyproject(inner)[0] == outer / "pyproject.toml"  # no pyproject.toml in pkg/: the parent's
    (inner / "pyproject.toml").write_text('[project]\nname = "inner"\n')  # its own project, no table
    assert find_pyproject(inner) is None and load_config(inner).fail_on is None
    (inner / "pyproject.toml").write_text('[tool.paraminspect]\nfail-on = "error"\n')
    assert load_config(inner).fail_on == "error"


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ("fail_on = 'error'\n", "unknown key 'fail_on'"),
        ("slect = ['PI001']\n", "did you mean 'select'"),
        ("select = 'PI001'\n", "select must be a list of strings"),
        ("ignore = ['PI999']\n", "unknown rule code 'PI999'"),
        ("fail-on = 'fatal'\n", "fail-on must be one of"),
        ("models = [1]\n", "models must be a list of strings"),
        ("per-model-ignores = ['PI001']\n", "per-model-ignores must be a table"),
        ("[tool.paraminspect.per-model-ignores]\n'x:y' = ['ZZ1']\n", "unknown rule code 'ZZ1'"),
    ],
)
def test_invalid_tables_name_the_file(tmp_path, table, needle):
    root = _project(tmp_path, table, model_file=None)
    with pytest.raises(UsageError) as info:
        load_config(root)
    message = str(info.value)
    assert message.startswith(str(root / "pyproject.toml") + ": ")
    assert needle in message and "\n" not in message


def test_table_must_be_a_table(tmp_path):
    with pytest.raises(UsageError, match="must be a table"):
        parse_table(tmp_path / "pyproject.toml", ["PI001"])


def test_broken_config_exits_2_with_one_line(cli, tmp_path, monkeypatch):
    root = _project(tmp_path, 'select = ["PI001"\n', model_file=None)  # invalid TOML
    monkeypatch.chdir(root)
    result = cli("check", str(SAMPLES / "mlp.py") + ":build")
    assert result.code == 2
    assert result.err.startswith("error: ") and "pyproject.toml: invalid TOML" in result.err
    assert result.err.count("\n") == 1

    _project(root, 'select = "PI001"\n', model_file=None)  # valid TOML, broken table
    result = cli("check", str(SAMPLES / "mlp.py") + ":build")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "pyproject.toml: [tool.paraminspect] select must be a list of strings" in result.err


def test_models_from_config_resolve_from_a_subfolder(cli, tmp_path, monkeypatch):
    root = _project(tmp_path, 'models = ["models/net.py:build"]\n')
    monkeypatch.chdir(root / "models")
    result = cli("check", "--format", "json")
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    assert {f["model"] for f in doc["findings"]} == {"models/net.py:build"}
    assert [f["code"] for f in doc["findings"]] == ["PI002", "PI004"]
    assert doc["summary"]["models"] == 1
    # paths are shown relative to the working directory
    assert {f["file"] for f in doc["findings"]} == {"net.py"}


def test_config_options_and_command_line_overrides(cli, tmp_path, monkeypatch):
    root = _project(
        tmp_path,
        'models = ["models/net.py:build"]\nfail-on = "error"\nallow = ["sc*"]\n'
        '[tool.paraminspect.per-model-ignores]\n"models/net.py:build" = ["PI004"]\n',
    )
    monkeypatch.chdir(root)
    # allow drops PI002 (scale), per-model-ignores drops PI004
    result = cli("check", "--format", "json")
    assert result.code == 0 and json.loads(result.out)["findings"] == []
    # explicit MODEL arguments replace `models`; per-model-ignores keys are matched against them
    result = cli("check", "models/net.py:build", "--format", "json", "--fail-on", "warning")
    assert result.code == 0 and json.loads(result.out)["findings"] == []

    _project(root, 'models = ["models/net.py:build"]\nfail-on = "error"\nselect = ["PI002"]\n')
    result = cli("check")
    assert result.code == 0  # PI002 is only a warning and the file says fail-on = error
    assert cli("check", "--fail-on", "warning").code == 1  # the flag overrides the file
    result = cli("check", "--select", "PI004", "--format", "json")  # so does --select
    assert [f["code"] for f in json.loads(result.out)["findings"]] == ["PI004"]


def test_no_models_anywhere_is_a_usage_error(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("check")
    assert result.code == 2 and "no MODEL given" in result.err and result.err.count("\n") == 1


def test_resolve_model_path_only_touches_relative_file_specs(tmp_path):
    assert resolve_model_path("models/net.py:build", tmp_path) == f"{tmp_path / 'models/net.py'}:build"
    assert resolve_model_path("timm:resnet50", tmp_path) == "timm:resnet50"
    assert resolve_model_path("pkg.mod:build", tmp_path) == "pkg.mod:build"
    assert resolve_model_path("/abs/net.py:build", tmp_path) == "/abs/net.py:build"
    assert resolve_model_path("models/net.py:build", None) == "models/net.py:build"
