"""Human output of `check`, `rules` and `explain` (rich). Imports neither torch nor the
inventory, so that `rules` and `explain` stay instant."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from paraminspect.checks.model import ERROR, INFO, SEVERITIES, WARNING, at_least
from paraminspect.render.github import display_path
from paraminspect.render.safe import printable

SEVERITY_STYLE = {ERROR: "bold red", WARNING: "yellow", INFO: "cyan"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def severity_counts(results: Sequence[Any]) -> Counter[str]:
    return Counter(f.severity for r in results for f in r.findings)


def summary_line(results: Sequence[Any], fail_on: str) -> str:
    counts = severity_counts(results)
    total = sum(counts.values())
    failed = sum(1 for r in results if r.error is not None)
    failing = sum(n for sev, n in counts.items() if at_least(sev, fail_on))
    models = _plural(len(results), "model")
    if total:
        by = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s])
        text = f"Found {_plural(total, 'finding')} ({by}) in {models}; {failing} at or above --fail-on {fail_on}"
    else:
        text = f"No findings in {models}"
    if failed:
        text += f"; {failed} {'model' if failed == 1 else 'models'} failed to load or run"
    return text + "."


def _target(f: Any) -> str:
    if f.module and f.attribute:
        return printable(f"{f.module}.{f.attribute}")
    return printable(f.attribute or f.module or (f.names[0] if f.names else "(model)"))


def model_header(result: Any) -> Text:
    header = Text(printable(result.spec), style="bold")
    if result.resolved and result.resolved != result.spec:
        header.append(f" -> {printable(result.resolved)}", style="dim")
    return header


def finding_lines(f: Any) -> tuple[Text, Text]:
    """`  CODE severity module.attribute  file:line`, then the indented message."""
    line = Text("  ")
    line.append(f.code, style="bold")
    if f.fix:  # `check --fix` can fix it
        line.append(" [*]", style="bold")
    line.append(" ")
    line.append(f"{f.severity:<7}", style=SEVERITY_STYLE[f.severity])
    line.append(" ")
    line.append(_target(f), style="bold")
    path = display_path(f.file)
    if path is not None:
        path = printable(path)
        line.append(f"  {path}:{f.line}" if f.line is not None else f"  {path}", style="dim")
    return line, Text(f"      {printable(f.message)}")


def print_findings(console: Console, results: Sequence[Any], fail_on: str) -> None:
    """Findings grouped by model, then a one-line summary."""
    for result in results:
        console.print(model_header(result))
        if result.error is not None:
            console.print(Text("  not checked: it failed (see the error on stderr)", style="red"))
            continue
        if not result.findings:
            console.print(Text("  no findings", style="green"))
        for f in result.findings:
            for line in finding_lines(f):
                console.print(line)
    console.print()
    print_fixable(console, results)
    counts = severity_counts(results)
    style = "bold red" if any(at_least(s, fail_on) for s in counts) or any(r.error for r in results) else "green"
    console.print(Text(summary_line(results, fail_on), style=style))


def print_fixable(console: Console, results: Sequence[Any]) -> None:
    """The `[*] N findings fixable with --fix` line, when there are any."""
    from paraminspect.checks import all_rules
    from paraminspect.render.fixes import fixable_line

    changes = {code: rule.fix.changes_state for code, rule in all_rules().items() if rule.fix is not None}
    line = fixable_line(results, changes)
    if line is not None:
        console.print(Text(line))


def print_rules(console: Console, rules: Sequence[Any]) -> None:
    """One aligned line per rule: code, name, severity, summary."""
    name_width = max((len(r.name) for r in rules), default=0)
    for rule in rules:
        line = Text(f"{rule.code}  {rule.name:<{name_width}}  ")
        line.append(f"{rule.severity:<7}", style=SEVERITY_STYLE[rule.severity])
        line.append(f"  {rule.summary}")
        console.print(line)


def print_explanation(console: Console, rule: Any) -> None:
    console.print(Text(f"{rule.code} {rule.name} ({rule.severity})", style="bold"))
    console.print(Text(rule.summary))
    console.print()
    console.print(Text(rule.explanation.rstrip()))
    if rule.fix is not None:
        print_fix(console, rule)


def print_fix(console: Console, rule: Any) -> None:
    """What `check --fix` does, and its examples as the lines they change."""
    import difflib

    console.print()
    state = "changes" if rule.fix.changes_state else "does not change"
    console.print(Text(f"Automatic fix (check --fix, preview with --diff): {rule.fix.summary}.", style="bold"))
    console.print(Text(f"It {state} what state_dict() and parameters() hold."))
    for example in rule.fix.examples:
        console.print()
        before, after = example.before.splitlines(), example.after.splitlines()
        for line in difflib.unified_diff(before, after, lineterm="", n=0):
            if line.startswith(("---", "+++", "@@")):
                continue
            console.print(Text(f"    {line}", style="red" if line.startswith("-") else "green"))
