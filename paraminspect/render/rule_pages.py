"""The rule catalog as Markdown: one page per rule and the index tables. The documentation site
generates its rule pages from these at build time (docs/hooks/rule_pages.py), so that they
cannot drift from the catalog; `help_markdown` is also each rule's SARIF help."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from paraminspect.render.findings import explanation_paragraphs, reported_at

RUN, BUILT = "run", "built"  # which pass reports a rule: `check --run`'s forward pass, or the others


_MARKDOWN = re.compile(r"([\\*_>\[\]|])")


def prose(text: str) -> str:
    """Catalog text (plain prose, with `code` in backticks) as Markdown: characters Markdown
    would read as markup are escaped outside code spans (`__init__` must not turn bold)."""

    def escape(part: str) -> str:
        return _MARKDOWN.sub(r"\\\1", part).replace("<", "&lt;")  # `\<` is no escape in Python-Markdown

    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code span, escape everything
        return escape(text)
    return "`".join(part if i % 2 else escape(part) for i, part in enumerate(parts))


def rule_path(code: str) -> str:
    """The rule's page in the documentation site, relative to the docs folder."""
    return f"rules/{code}.md"


def _python(source: str) -> str:
    return f"```python\n{source.strip()}\n```"


def example_parts(rule: Any) -> list[str]:
    """Each example as whole files (the tests build each one): where the bad one is reported,
    the bad file, then its corrected version."""
    parts = []
    for example in rule.examples:
        if example.title:
            parts.append(f"**{prose(example.title)}**")
        good = "Good, as `check --fix` writes it:" if example.fixed else "Good:"
        parts += [reported_at(rule.code, example), _python(example.bad), good, _python(example.good)]
    return parts


def help_markdown(rule: Any) -> str:
    """The explanation, then the examples: SARIF's `help.markdown` (GitHub code scanning)."""
    return "\n\n".join([prose(p) for p in explanation_paragraphs(rule.explanation)] + example_parts(rule))


def rule_page(rule: Any, reported_by: str) -> str:
    """A rule's page: what `paraminspect explain CODE` prints, as Markdown."""
    command = "`paraminspect check --run`" if reported_by == RUN else "`paraminspect check`"
    fix = "yes (`check --fix`)" if rule.fix is not None else "no"
    parts = [
        f"# {rule.code} {rule.name}",
        f"**Severity:** {rule.severity} · **Reported by:** {command} · **Automatic fix:** {fix}",
        f"*{prose(rule.summary)}*",
        "## What it means",
        *[prose(p) for p in explanation_paragraphs(rule.explanation)],
    ]
    if rule.fix is not None:
        state = "changes" if rule.fix.changes_state else "does not change"
        parts += [
            "## Automatic fix",
            f"`paraminspect check --fix` (preview with `--diff`): {prose(rule.fix.summary)}. "
            f"It {state} what `state_dict()` and `parameters()` hold.",
        ]
    parts += [
        "## Examples",
        "The test suite builds every example (`tests/test_rule_examples.py`): the bad model gets "
        "this finding there, the good one gets none.",
        *example_parts(rule),
        "## Suppressing it",
        f"`# noqa: {rule.code}` on the reported line, `--ignore {rule.code}`, or "
        f'`ignore = ["{rule.code}"]` in `[tool.paraminspect]` '
        "([Choosing rules](../check.md#choosing-rules-suppressing-findings)). "
        f"`paraminspect explain {rule.code}` prints this page in the terminal.",
    ]
    return "\n\n".join(parts) + "\n"


def rules_table(rules: Sequence[Any], link_prefix: str = "") -> str:
    """The index table: code (linked to its page), name, severity, automatic fix, summary."""
    rows = ["| code | name | severity | fix | summary |", "|---|---|---|---|---|"]
    for rule in rules:
        link = f"[{rule.code}]({link_prefix}{rule.code}.md)"
        fix = "yes" if rule.fix is not None else ""
        rows.append(f"| {link} | {rule.name} | {rule.severity} | {fix} | {prose(rule.summary)} |")
    return "\n".join(rows) + "\n"
