"""Human report of a registry run (`check 'timm:*'`): only the models with findings, then the
models that could not be checked (failures, apart from findings), then the summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from paraminspect.checks.rule import at_least
from paraminspect.render.findings import (
    FULL,
    finding_lines,
    model_header,
    print_fixable,
    print_wrapped,
    severity_counts,
    summary_line,
)
from paraminspect.render.safe import one_line
from paraminspect.wording import plural


def print_sweep_report(
    console: Console,
    results: Sequence[Any],
    fail_on: str,
    skipped: Sequence[Any] = (),
    counts_line: str | None = None,
    noun: str = "models",
    style: str = FULL,
) -> None:
    """Models with findings at or above `fail_on` (lower ones are only counted: a registry
    has thousands), then the failures, then the skipped models (`check PATH`: classes that
    need arguments), then the summary (`counts_line` replaces "Checked N models: ...")."""
    width = console.width if console.is_terminal else None
    with_findings = [r for r in results if r.error is None and r.findings]
    failed = [r for r in results if r.error is not None]
    clean = len(results) - len(with_findings) - len(failed)
    unlisted = 0
    for result in with_findings:
        listed = [f for f in result.findings if at_least(f.severity, fail_on)]
        unlisted += len(result.findings) - len(listed)
        if not listed:
            continue
        console.print(model_header(result, width), soft_wrap=True)
        for f in listed:
            for line in finding_lines(f, width, style):
                console.print(line, soft_wrap=True)
            if style == FULL:
                console.print()
    if unlisted:
        below = f"({plural(unlisted, 'finding')} below --fail-on {fail_on} not listed; --fail-on info lists them)"
        print_wrapped(console, below, width)
    if with_findings:
        console.print()
    if failed:
        head = f"Failures: {len(failed)} of {len(results)} {noun} could not be checked"
        console.print(Text(head, style="bold red"))
        for result in failed:
            print_wrapped(console, one_line(result.error_line()), width, indent="  ")
        console.print()
    if skipped:
        console.print(
            Text(
                f"Skipped: {len(skipped)} module class{'es' if len(skipped) != 1 else ''} "
                f"need{'s' if len(skipped) == 1 else ''} arguments ([tool.paraminspect.args] gives them)",
                style="bold",
            )
        )
        for entry in skipped:
            console.print(Text(f"  {entry.model}: {entry.reason}"))
        console.print()
    if counts_line is None:
        counts_line = f"Checked {plural(len(results), 'model')}: {clean} clean, "
        counts_line += f"{len(with_findings)} with findings, {len(failed)} failed."
    console.print(Text(counts_line))
    print_fixable(console, results)
    counts = severity_counts(results)
    colour = "bold red" if any(at_least(s, fail_on) for s in counts) or failed else "green"
    print_wrapped(console, summary_line(results, fail_on), width, style=colour)
