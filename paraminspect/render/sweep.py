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
    classes: Sequence[Any] = (),
    fix_command: str = "",
) -> None:
    """Models with findings at or above `fail_on` (lower ones are only counted: a registry
    has thousands), then the failures, then the skipped models (`check PATH`: classes that
    need arguments, each with a way to give them), the classes built with arguments found in
    the project (`classes`: discover.coverage.ClassCoverage), then the summary (`counts_line`
    replaces "Checked N models: ...")."""
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
        if classes:  # `check PATH`: classes that did not build, files that could not be read
            built = sum(1 for r in failed if ":" in r.spec)
            parts = [f"{plural(built, 'module class', 'module classes')} could not be built"] if built else []
            if len(failed) > built:
                parts.append(f"{plural(len(failed) - built, 'file')} could not be read or imported")
            head = "Failures: " + ", ".join(parts)
        else:
            head = f"Failures: {len(failed)} of {len({r.spec for r in results})} {noun} could not be checked"
        console.print(Text(head, style="bold red"))
        for result in failed:
            print_wrapped(console, one_line(result.error_line()), width, indent="  ")
        console.print()
    if skipped:
        _print_skipped(console, skipped, width)
    found = [c for c in classes if c.arguments is not None and c.arguments[0] != "args-table"]
    if found:
        _print_found_arguments(console, found, width)
    if counts_line is None:
        counts_line = f"Checked {plural(len(results), 'model')}: {clean} clean, "
        counts_line += f"{len(with_findings)} with findings, {len(failed)} failed."
    console.print(Text(counts_line))
    print_fixable(console, results, fix_command)
    counts = severity_counts(results)
    colour = "bold red" if any(at_least(s, fail_on) for s in counts) or failed else "green"
    line = _classes_summary(results, fail_on) if classes else summary_line(results, fail_on)
    print_wrapped(console, line, width, style=colour)


LISTED = 20  # lines of a `check PATH` list shown before "and N more"


def _print_skipped(console: Console, skipped: Sequence[Any], width: int | None) -> None:
    count = plural(len(skipped), "module class", "module classes")
    head = f"Not built: {count} need{'s' if len(skipped) == 1 else ''} arguments that were not found"
    console.print(Text(head, style="bold"))
    for entry in skipped[:LISTED]:
        text = entry.reason if entry.reason.startswith(entry.model) else f"{entry.model}: {entry.reason}"
        print_wrapped(console, one_line(text), width, indent="  ")
    _more(console, len(skipped), "skipped")
    console.print()


def _print_found_arguments(console: Console, found: Sequence[Any], width: int | None) -> None:
    count = plural(len(found), "module class", "module classes")
    console.print(Text(f"Built with arguments found in the project: {count}", style="bold"))
    for c in found[:LISTED]:
        print_wrapped(console, one_line(f"{c.model} <- {arguments_where(c.arguments)} ({c.arguments[0]})"), width, "  ")
    _more(console, len(found), "classes")
    console.print()


def _classes_summary(results: Sequence[Any], fail_on: str) -> str:
    """`check PATH`'s last line: the findings and the module classes they are in (the
    coverage line above it counts the classes, the failures and the files)."""
    from paraminspect.checks.rule import SEVERITIES
    from paraminspect.render.findings import SEVERITY_PLURAL

    counts = severity_counts(results)
    total = sum(counts.values())
    failing = sum(n for sev, n in counts.items() if at_least(sev, fail_on))
    suppressed = sum(getattr(r, "suppressed", 0) for r in results)
    if total:
        by = ", ".join(plural(counts[s], s, SEVERITY_PLURAL[s]) for s in SEVERITIES if counts[s])
        holders = plural(len({r.spec for r in results if r.findings}), "module class", "module classes")
        text = f"Found {plural(total, 'finding')} ({by}) in {holders}; {failing} at or above --fail-on {fail_on}"
    else:
        text = "No findings"
    if suppressed:
        text += f"; {suppressed} suppressed (# noqa)"
    return text + "."


def arguments_where(arguments: tuple[str, str, int | None]) -> str:
    """`file:line` of where a class's arguments came from, relative to the working directory
    when below it."""
    from paraminspect.render.github import display_path

    _kind, file, line = arguments
    shown = display_path(file) or file
    return f"{shown}:{line}" if line else shown


def _more(console: Console, total: int, key: str) -> None:
    if total > LISTED:
        console.print(Text(f"  ... and {total - LISTED} more (--format json lists them all, in `{key}`)"))
