"""The documentation against the code. The rule pages and tables are generated from the catalog
(paraminspect.render.rule_pages, called by the site's hook docs/hooks/rule_pages.py): every rule
gets its page with its severity, explanation, fix and examples, and the index lists each rule
once. The hand-written fix table (docs/fix.md) is checked against the catalog, the contributor
page names only files that exist, the README keeps CI's test command, its links lead to files
that exist and its `check` example prints what it shows. With mkdocs installed (the `docs`
extra), the site builds with `--strict`: no broken link or anchor."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT

from paraminspect.checks import all_rules
from paraminspect.checks.runtime import RULES as RUNTIME_RULES
from paraminspect.render.rule_pages import BUILT, RUN, prose, rule_page, rule_path, rules_table

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"


def _doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _tables(text: str, header: str) -> list[list[list[str]]]:
    """Every markdown table of `text` whose header row is `header`: rows of cells."""
    tables, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == header:
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip().strip("|").split(" | ")])
            tables.append(rows)
    return tables


def test_every_rule_gets_a_page_with_its_catalog_entry():
    for rule in all_rules().values():
        page = rule_page(rule, RUN if rule in RUNTIME_RULES else BUILT)
        assert page.startswith(f"# {rule.code} {rule.name}\n")
        assert f"**Severity:** {rule.severity}" in page and f"*{prose(rule.summary)}*" in page
        assert ("## Automatic fix" in page) == (rule.fix is not None)
        if rule.fix is not None:
            assert prose(rule.fix.summary) in page
        # the explanation's words, re-flowed into paragraphs, Markdown's characters escaped
        text = re.sub(r"\\([\\*_>\[\]|])", r"\1", page).replace("&lt;", "<")
        assert " ".join(rule.explanation.split()) in " ".join(text.split())
        assert rule.examples, rule.code
        for example in rule.examples:
            assert f"```python\n{example.bad.strip()}\n```" in page
            assert f"```python\n{example.good.strip()}\n```" in page


def test_the_index_tables_list_every_rule_once_with_its_page():
    runtime = {rule.code for rule in RUNTIME_RULES}
    rules = list(all_rules().values())
    header = "| code | name | severity | fix | summary |"
    (built,) = _tables(rules_table([r for r in rules if r.code not in runtime]), header)
    (run,) = _tables(rules_table([r for r in rules if r.code in runtime]), header)
    rows = {row[0]: row for row in built + run}
    assert len(rows) == len(built) + len(run) == len(rules)
    for rule in rules:
        _, name, severity, fix, _ = rows[f"[{rule.code}]({rule.code}.md)"]
        assert (name, severity, fix) == (rule.name, rule.severity, "yes" if rule.fix else "")
    assert rule_path("PI001") == "rules/PI001.md"
    # the pages that show the tables hold the hook's markers, and no hand-written copy
    assert "<!-- rules-table -->" in _doc("rules/index.md") and "<!-- rules-table:run -->" in _doc("rules/index.md")
    assert "<!-- rules-table:run -->" in _doc("run.md")
    for name in ("rules/index.md", "run.md"):
        assert not re.search(r"^\| PI\d{3} \|", _doc(name), flags=re.M), name


def test_the_fix_table_lists_every_rule_with_a_fix_and_whether_it_changes_state():
    (fixes,) = _tables(_doc("fix.md"), "| rule | fix | changes state_dict()/parameters() |")
    expected = [(r.code, "yes" if r.fix.changes_state else "no") for r in all_rules().values() if r.fix is not None]
    assert [(row[0], row[2].split()[0]) for row in fixes] == expected


def test_the_contributor_page_names_files_that_exist():
    named = set(re.findall(r"`(paraminspect/[\w/]+\.py)`", _doc("contributing.md")))
    assert named, "the page names the files to touch"
    assert sorted(p for p in named if not (ROOT / p).is_file()) == []


def test_the_readme_keeps_ci_test_command_and_links_to_existing_pages():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = 'pip install -e ".[test,hf]" && pytest'
    assert command in ci
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert command in quick_start
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if "://" not in link]
    assert "docs/output.md" in local and "docs/rules/index.md" in local  # the contracts, the rules
    assert sorted(link for link in local if not (ROOT / link).is_file()) == []
    # no claimed install source that does not exist: it installs from a clone
    assert "pip install paraminspect" not in README and "git+https" not in README


def test_the_readme_check_example_prints_what_it_shows(cli):
    shown = README.split("$ paraminspect check sample_models/ci_example.py:build\n", 1)[1].split("```", 1)[0]
    result = cli("check", "sample_models/ci_example.py:build", "--no-cache")
    assert result.code == 1
    assert result.out == shown


def _readme_commands() -> list[list[str]]:
    """The `paraminspect ...` lines of README's shell blocks that need nothing but this checkout
    (the sample models, `explain`): the commands a reader can paste as they are."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            args = shlex.split(line.split(" #", 1)[0])
            if args[:1] == ["paraminspect"] and (args[1] == "explain" or any("sample_models/" in a for a in args)):
                commands.append(args[1:])
    return commands


def test_the_readme_commands_on_the_sample_models_run(cli):
    commands = _readme_commands()
    assert len(commands) >= 4
    for args in commands:
        result = cli(*args)
        assert result.code in (0, 1), (args, result.err)
        assert "error" not in result.err, (args, result.err)
        assert result.out.strip(), args


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs and mkdocs-material are the docs extra",
)
def test_the_site_builds_strict(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for rule in all_rules().values():
        page = (tmp_path / "site" / "rules" / rule.code / "index.html").read_text(encoding="utf-8")
        assert rule.name in page
        assert "<strong>init</strong>" not in page  # catalog prose is escaped: `__init__` stays as written
