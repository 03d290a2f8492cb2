"""README's hand-written rule tables against the catalog: a rule added, renamed, re-graded or
given a fix without its row (or a row left for a rule that is gone) fails here. Also the
contributor section names only files that exist."""

from __future__ import annotations

import re

from conftest import ROOT

from paraminspect.checks import all_rules
from paraminspect.checks.runtime import RULES as RUNTIME_RULES

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _tables(header: str) -> list[list[list[str]]]:
    """Every markdown table of README whose header row is `header`: rows of cells."""
    tables, lines = [], README.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == header:
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip().strip("|").split(" | ")])
            tables.append(rows)
    return tables


def test_the_rule_tables_list_every_rule_with_its_name_and_severity():
    static, runtime = _tables("| code | name | severity | what |")
    runtime_codes = {rule.code for rule in RUNTIME_RULES}
    catalog = all_rules()
    expected_static = [(r.code, r.name, r.severity) for r in catalog.values() if r.code not in runtime_codes]
    expected_runtime = [(r.code, r.name, r.severity) for r in catalog.values() if r.code in runtime_codes]
    assert [tuple(row[:3]) for row in static] == expected_static
    assert [tuple(row[:3]) for row in runtime] == expected_runtime


def test_the_fix_table_lists_every_rule_with_a_fix_and_whether_it_changes_state():
    (fixes,) = _tables("| rule | fix | changes state_dict()/parameters() |")
    expected = [(r.code, "yes" if r.fix.changes_state else "no") for r in all_rules().values() if r.fix is not None]
    assert [(row[0], row[2].split()[0]) for row in fixes] == expected


def test_the_contributor_section_names_files_that_exist():
    section = README.split("## Layout (for contributors)", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(paraminspect/[\w/]+\.py)`", section))
    assert named, "the section names the files to touch"
    assert sorted(p for p in named if not (ROOT / p).is_file()) == []
