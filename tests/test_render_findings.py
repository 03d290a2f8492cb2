"""Renderers of `check`: text, JSON, GitHub annotations and SARIF (documented contracts)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from conftest import ROOT, sample

from paraminspect.checks import all_rules
from paraminspect.checks.model_result import ModelResult
from paraminspect.checks.rule import Finding
from paraminspect.render.console import make_console
from paraminspect.render.findings import explanation_paragraphs, print_findings, summary_line
from paraminspect.render.github import annotation, check_github, display_path, escape_data, escape_property
from paraminspect.render.json import check_json
from paraminspect.render.rule_pages import prose
from paraminspect.render.sarif import check_sarif

FILE = str(ROOT / "sample_models" / "ci_example.py")


def _finding(code: str, severity: str, attribute: str, line: int | None, model: str = "m:build") -> Finding:
    return Finding(
        code, severity, "", attribute, (attribute,), f"`{attribute}` message", FILE if line else None, line, model
    )


RESULTS = [
    ModelResult(
        "m:build", "m:build", (_finding("PI002", "warning", "scale", 8), _finding("PI006", "warning", "", None))
    ),
    ModelResult("other:build", "other:build", (_finding("PI010", "info", "positions", 3, "other:build"),)),
    ModelResult("broken:build", error="factory broken raised ValueError: nope"),
]


def test_json_contract(monkeypatch):
    monkeypatch.chdir(ROOT)
    doc = json.loads(check_json(RESULTS))
    assert set(doc) == {"schema_version", "findings", "failures", "skipped", "summary"}
    assert doc["skipped"] == []  # `check PATH` lists classes that need arguments here
    assert doc["schema_version"] == 1
    assert doc["failures"] == [{"model": "broken:build", "error": "factory broken raised ValueError: nope"}]
    for f in doc["findings"]:
        keys = ["code", "severity", "model", "module", "attribute", "names", "message", "file", "line", "fix"]
        assert list(f) == [*keys, "evidence"] and f["evidence"] == "built"  # a built model's findings
    first = doc["findings"][0]
    assert first["file"] == "sample_models/ci_example.py" and first["line"] == 8 and first["names"] == ["scale"]
    assert doc["findings"][1]["file"] is None and doc["findings"][1]["line"] is None
    assert doc["summary"] == {
        "models": 3,
        "failed": 1,
        "skipped": 0,
        "errors": 0,
        "warnings": 2,
        "infos": 1,
        "suppressed": 0,
    }


def test_github_escaping():
    assert escape_data("100%\r\nnext") == "100%25%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    line = annotation("error", "two\nlines", "PI004", "dir,x/a:b.py", 9)
    assert line == "::error file=dir%2Cx/a%3Ab.py,line=9,title=PI004::two%0Alines"
    assert annotation("notice", "m", "PI006") == "::notice title=PI006::m"


def test_github_annotations_levels_and_missing_files(monkeypatch):
    monkeypatch.chdir(ROOT)
    lines = check_github(RESULTS).splitlines()
    assert lines[0] == "::warning file=sample_models/ci_example.py,line=8,title=PI002::m:build: `scale` message"
    assert lines[1].startswith("::warning title=PI006::")
    assert lines[2].startswith("::notice file=sample_models/ci_example.py,line=3,title=PI010::")
    assert lines[3].startswith("::error title=paraminspect%3A load error::broken:build: factory broken")
    assert len(lines) == 4


def test_display_path_relative_inside_cwd_absolute_outside(tmp_path):
    assert display_path(FILE, ROOT) == "sample_models/ci_example.py"
    assert display_path(FILE, tmp_path) == str(Path(FILE).resolve())
    assert display_path(None) is None


def test_sarif_structure(monkeypatch):
    monkeypatch.chdir(ROOT)
    rules = list(all_rules().values())
    doc = json.loads(check_sarif(RESULTS, rules, "0.1.0"))
    assert doc["version"] == "2.1.0" and "sarif-2.1.0" in doc["$schema"]
    [run] = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "paraminspect"
    assert [r["id"] for r in driver["rules"]] == [r.code for r in rules]
    assert len({r["id"] for r in driver["rules"]}) == len(rules)
    for entry, rule in zip(driver["rules"], rules, strict=True):
        markdown = entry["help"]["markdown"]  # code scanning shows it: the tested examples, as files
        assert markdown.startswith(prose(explanation_paragraphs(rule.explanation)[0]))  # Markdown-escaped
        assert markdown.count("```python\n") == 2 * len(rule.examples) > 0
        assert all(example.bad.strip() in markdown and example.good.strip() in markdown for example in rule.examples)
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in driver["rules"]}
    assert levels["PI004"] == "error" and levels["PI002"] == "warning" and levels["PI010"] == "note"
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["PI002", "PI006", "PI010"]
    assert all(driver["rules"][r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    physical = results[0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "sample_models/ci_example.py", "uriBaseId": "%SRCROOT%"}
    assert physical["region"] == {"startLine": 8}
    assert "physicalLocation" not in results[1]["locations"][0]
    assert results[1]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "m:build::"
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert "broken:build" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_text_report_groups_by_model_then_summary(monkeypatch):
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    print_findings(make_console(out), RESULTS, "warning")
    text = out.getvalue()
    assert text.index("m:build") < text.index("PI002") < text.index("PI006") < text.index("other:build")
    assert "sample_models/ci_example.py:8" in text
    assert "broken:build" in text and "not checked: factory broken raised ValueError: nope" in text
    assert text.rstrip().splitlines()[-1] == summary_line(RESULTS, "warning")
    assert summary_line(RESULTS, "warning") == (
        "Found 3 findings (2 warnings, 1 info) in 3 models; 2 at or above --fail-on warning; "
        "1 model failed to load or run."
    )
    assert "\x1b[" not in text


def test_cli_sarif_and_json_for_the_ci_example(cli):
    result = cli("check", sample("ci_example"), "--format", "sarif")
    assert result.code == 1
    run = json.loads(result.out)["runs"][0]
    lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in run["results"]]
    assert lines == [8, 9]
    result = cli("check", sample("ci_example"), "--format", "json")
    doc = json.loads(result.out)
    assert [(f["code"], f["line"]) for f in doc["findings"]] == [("PI002", 8), ("PI004", 9)]
    assert doc["summary"] == {
        "models": 1,
        "failed": 0,
        "skipped": 0,
        "errors": 1,
        "warnings": 1,
        "infos": 0,
        "suppressed": 0,
    }
