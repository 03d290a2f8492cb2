"""Tests generated from the rule catalog: every rule carries examples as code (Rule.examples),
and each one is built and checked here for real. The bad model gets that rule's finding, and
only that rule's, at the attribute (and line) the example names; the good model gets none of
that rule's findings; a `fixed` example's good model is exactly what the rule's fix writes.
PI1xx examples go through the real forward pass (`check --run`). Adding a rule without
examples fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from paraminspect.checks import all_rules
from paraminspect.checks.rule import Example
from paraminspect.commands.check import check_model
from paraminspect.fixes import FixRequest, rewrite_source
from paraminspect.forward.examples import RunOptions

RULES = all_rules()
EXAMPLES = [
    pytest.param(code, i, example, id=f"{code}-{i}")
    for code, rule in RULES.items()
    for i, example in enumerate(rule.examples)
]
FIXED = [p for p in EXAMPLES if p.values[2].fixed]


def _check(tmp_path: Path, name: str, source: str, example: Example) -> tuple[list, list[str]]:
    """The findings of every rule for `source` written to a file (run on the example's input
    when it has one), and the file's lines."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    run = RunOptions(input_shape=example.input_shape) if example.input_shape else None
    result = check_model(f"{path}:Model", device=example.device or None, run=run)
    assert result.error is None, result.error
    return list(result.findings), source.splitlines()


@pytest.mark.parametrize("code", list(RULES))
def test_every_rule_has_a_bad_and_a_good_example(code):
    rule = RULES[code]
    assert rule.examples, f"{code} has no examples: add at least one (bad model, good model, where)"
    for example in rule.examples:
        assert "class Model(nn.Module)" in example.bad and "class Model(nn.Module)" in example.good
        assert example.bad != example.good
        # explain shows them four columns in, diff lines with a +/- mark: they fit 80 columns
        assert max(len(line) for line in (*example.bad.splitlines(), *example.good.splitlines())) <= 75
        # a PI1xx rule is only seen by running the model; a static rule's example needs no run
        assert bool(example.input_shape) == (rule.check is None), code
    # the explanation is prose: code in it would be a second, untested set of examples
    code_lines = [line for line in rule.explanation.splitlines() if line.startswith("    ") and line.strip()]
    assert not code_lines and "Example" not in rule.explanation, f"{code}: move the code into Rule.examples"
    if rule.fix is not None:
        assert any(e.fixed for e in rule.examples), f"{code} has a fix but no example of it"
    else:
        assert not any(e.fixed for e in rule.examples)


@pytest.mark.parametrize(("code", "index", "example"), EXAMPLES)
def test_the_bad_example_is_reported_where_it_says(tmp_path, code, index, example):
    findings, lines = _check(tmp_path, f"{code.lower()}_{index}_bad", example.bad, example)
    assert {f.code for f in findings} == {code, *example.also}, [(f.code, f.message) for f in findings]
    at = [f for f in findings if (f.module, f.attribute) == (example.module, example.attribute)]
    assert at, [(f.module, f.attribute) for f in findings]
    if example.line:
        assert any(f.line and example.line in lines[f.line - 1] for f in at), [(f.line, f.message) for f in at]


@pytest.mark.parametrize(("code", "index", "example"), EXAMPLES)
def test_the_good_example_is_clean_of_the_rule(tmp_path, code, index, example):
    findings, _ = _check(tmp_path, f"{code.lower()}_{index}_good", example.good, example)
    assert [f for f in findings if f.code == code] == []


@pytest.mark.parametrize(("code", "index", "example"), FIXED)
def test_the_fix_turns_the_bad_example_into_the_good_one(tmp_path, code, index, example):
    findings, _ = _check(tmp_path, f"{code.lower()}_{index}_tofix", example.bad, example)
    assert findings and all(f.fix for f in findings), findings
    rewrite = rewrite_source(example.bad, [FixRequest(f.code, f.line, f.attribute, f.fix) for f in findings])
    assert all(o.applied for o in rewrite.outcomes), rewrite.outcomes
    assert rewrite.source == example.good


@pytest.mark.parametrize("code", list(RULES))
def test_explain_prints_every_example(cli, code):
    result = cli("explain", code)
    assert result.code == 0, result.err
    out = result.out.splitlines()
    for example in RULES[code].examples:
        bad, good = example.bad.splitlines(), example.good.splitlines()
        for line in bad[bad.index("class Model(nn.Module):") :]:  # the bad model in full
            assert (f"    {line}" if line else "") in out, line
        for line in set(good) - set(bad):  # and the lines its good version changes
            assert f"    +{line}" in out, line
    assert ("Good, as check --fix writes it:" in out) == (RULES[code].fix is not None)
