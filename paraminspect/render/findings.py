"""Human output of `check`, `rules` and `explain` (rich). Imports neither torch nor the
inventory, so that `rules` and `explain` stay instant."""

from __future__ import annotations

import linecache
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.style import Style
from rich.text import Text

from paraminspect.checks.rule import ERROR, INFO, SEVERITIES, WARNING, at_least
from paraminspect.render.fit import cell_width, crop, shorten_middle, shorten_path, wrap_text
from paraminspect.render.github import display_path
from paraminspect.render.safe import one_line, printable
from paraminspect.wording import plural

SEVERITY_STYLE = {ERROR: "bold red", WARNING: "yellow", INFO: "cyan"}
SEVERITY_PLURAL = {ERROR: "errors", WARNING: "warnings", INFO: "infos"}
FULL, CONCISE = "full", "concise"


def severity_counts(results: Sequence[Any]) -> Counter[str]:
    return Counter(f.severity for r in results for f in r.findings)


def summary_line(results: Sequence[Any], fail_on: str) -> str:
    counts = severity_counts(results)
    total = sum(counts.values())
    failed = sum(1 for r in results if r.error is not None)
    failing = sum(n for sev, n in counts.items() if at_least(sev, fail_on))
    suppressed = sum(getattr(r, "suppressed", 0) for r in results)
    models = plural(len(results), "model")
    if total:
        by = ", ".join(plural(counts[s], s, SEVERITY_PLURAL[s]) for s in SEVERITIES if counts[s])
        text = f"Found {plural(total, 'finding')} ({by}) in {models}; {failing} at or above --fail-on {fail_on}"
    else:
        text = f"No findings in {models}"
    if suppressed:
        text += f"; {suppressed} suppressed (# noqa)"
    if failed:
        text += f"; {plural(failed, 'model')} failed to load or run"
    return text + "."


def _target(f: Any) -> str:
    if f.module and f.attribute:
        return printable(f"{f.module}.{f.attribute}")
    return printable(f.attribute or f.module or (f.names[0] if f.names else "(model)"))


def model_header(result: Any, width: int | None = None) -> Text:
    """The model's spec (and what it resolved to); on a terminal, never wider than it: the
    resolved name goes first, then the spec is cut in the middle."""
    spec = printable(result.spec)
    resolved = f" -> {printable(result.resolved)}" if result.resolved and result.resolved != result.spec else ""
    if width is not None and cell_width(spec + resolved) > width:
        resolved = ""
        spec = shorten_middle(spec, width)
    header = Text(spec, style="bold")
    if resolved:
        header.append(resolved, style="dim")
    return header


def finding_head(f: Any, indent: str = "") -> Text:
    """`CODE [*] severity module.attribute`: what was found, first (ruff's full layout); the
    file follows on its own ` --> path:line:col` line (finding_lines)."""
    line = Text(indent)
    line.append(f.code, style="bold")
    if f.fix:  # `check --fix` can fix it
        line.append(" [*]", style="bold")
    line.append(" ")
    line.append(f.severity, style=SEVERITY_STYLE[f.severity])
    line.append(" ")
    line.append(printable(_target(f)), style="bold")
    return line


def finding_lines(f: Any, width: int | None = None, style: str = FULL) -> list[Text]:
    """A finding for humans. Full style (ruff's): the head line, the message indented and
    wrapped to `width` (None: piped, one line), ` --> path:line:col` on its own line, then
    the source line with the attribute marked. On a terminal (`width` given) the path is
    short (locations.short_path) and a hyperlink to the file. Concise: one line."""
    if style == CONCISE:
        return [concise_line(f, width)]
    lines = [finding_head(f)]
    lines.extend(Text(line) for line in wrap_text(printable(f.message), width, "    "))
    snippet = _snippet(f.file, f.line, f.attribute)
    if f.file is not None:
        gutter = " " * len(str(f.line or ""))
        column = snippet[1] + 1 if snippet is not None and snippet[2] else None
        lines.append(_arrow_line(f, column, gutter, width))
    if snippet is not None:
        lines.extend(source_lines(f.file, f.line, f.attribute, width))
    return lines


def _arrow_line(f: Any, column: int | None, gutter: str, width: int | None) -> Text:
    """` --> path:line:col`."""
    from paraminspect.render.locations import location_text

    arrow = Text(f"{gutter}--> ", style="blue")
    room = None if width is None else width - arrow.cell_len
    return arrow + location_text(f.file, f.line, column, width is not None, room)


def _snippet(file: str | None, line: int | None, attribute: str) -> tuple[str, int, int] | None:
    """The finding's source line (tabs expanded, printable) and where the attribute is in
    it (start, length; length 0 when the line does not name it); None when unreadable."""
    if not file or not line:
        return None
    code = linecache.getline(file, line).rstrip("\n").expandtabs(4)
    if not code.strip():
        return None
    code = printable(code)
    start, length = _mark(code, attribute)
    return code, start, length


def concise_line(f: Any, width: int | None) -> Text:
    """`path:line: CODE severity target: message` on one line. On a terminal it never
    wraps: a long path is cut in the middle at folder boundaries (to 40 cells; a shorter
    one stays whole, so that it still opens in an editor), then the message at its end (to
    30 cells), the target in the middle (to 16), the message to 12, the path further (to
    20), the message to nothing, and a line still too wide is cropped."""
    from paraminspect.render.locations import file_uri, short_path

    path = short_path(f.file) if width is not None else display_path(f.file)
    path = printable(path) if path is not None else None
    suffix = f":{f.line}" if path is not None and f.line is not None else ""
    target, message = _target(f), printable(f.message)
    code = f.code + (" [*]" if f.fix else "")

    def plain_width() -> int:
        location = f"{path}{suffix}: " if path is not None else ""
        return cell_width(f"{location}{code} {f.severity} {target}: {message}")

    steps = (("path", 40), ("message", 30), ("target", 16), ("message", 12), ("path", 20), ("message", 1))
    for part, floor in steps:
        over = 0 if width is None else plain_width() - width
        if over <= 0:
            break
        if part == "path" and path is not None:
            path = shorten_path(path, max(floor, cell_width(path) - over))
        elif part == "message":
            message = crop(message, max(floor, cell_width(message) - over))
        elif part == "target":
            target = shorten_middle(target, max(floor, cell_width(target) - over))
    line = Text()
    if path is not None:
        link = file_uri(f.file) if width is not None and f.file else None
        line.append(f"{path}{suffix}", style=Style(bold=True, link=link))
        line.append(": ", style="bold")
    line.append(code, style="bold")
    line.append(" ")
    line.append(f.severity, style=SEVERITY_STYLE[f.severity])
    line.append(" ")
    line.append(target, style="bold")
    line.append(f": {message}")
    if width is not None and line.cell_len > width:
        line.truncate(width - 1)
        line.append("…")
    return line


def print_wrapped(console: Console, text: str, width: int | None, indent: str = "", style: str = "") -> None:
    """`text` wrapped to `width` (render.fit.wrap_text), a console line per line."""
    for line in wrap_text(text, width, indent):
        console.print(Text(line, style=style))


def source_lines(file: str | None, line: int | None, attribute: str, width: int | None) -> list[Text]:
    """The source line of a finding under a numbered gutter, the attribute underlined with
    `^` when the line names it; nothing when the file cannot be read."""
    snippet = _snippet(file, line, attribute)
    if snippet is None:
        return []
    code, start, length = snippet
    number = str(line)
    gutter = " " * len(number)
    room = None if width is None else width - len(number) - 4
    if room is not None and cell_width(code) > room:
        code = crop(code, max(room, 1))
    out = [Text(f"{gutter} |", style="blue"), Text(f"{number} | ", style="blue") + Text(code)]
    if length and (room is None or start + length <= room):
        out.append(Text(f"{gutter} | ", style="blue") + Text(" " * start + "^" * length, style="bold red"))
    return out


def _mark(code: str, attribute: str) -> tuple[int, int]:
    """Where `attribute` (`self.scale` first, else the bare word) is in the line."""
    if not attribute or not code.isascii():
        return 0, 0
    name = attribute.split("[", 1)[0].split(".")[-1]
    for pattern in (rf"self\.{re.escape(name)}\b", rf"\b{re.escape(name)}\b"):
        match = re.search(pattern, code)
        if match:
            start = match.start() + (len("self.") if pattern.startswith("self") else 0)
            return start, len(name)
    return 0, 0


def print_findings(
    console: Console, results: Sequence[Any], fail_on: str, style: str = FULL, fix_command: str = ""
) -> None:
    """Findings grouped by model, then a one-line summary (`fix_command`: see print_fixable)."""
    width = console.width if console.is_terminal else None
    for result in results:
        console.print(model_header(result, width), soft_wrap=True)
        if result.error is not None:
            print_wrapped(console, f"not checked: {one_line(result.error)}", width, indent="  ", style="red")
            continue
        if not result.findings:
            console.print(Text("  no findings", style="green"))
        for f in result.findings:
            for line in finding_lines(f, width, style):
                console.print(line, soft_wrap=True)
            if style == FULL:
                console.print()
    if style == CONCISE or not any(r.findings for r in results):
        console.print()
    print_fixable(console, results, fix_command)
    counts = severity_counts(results)
    colour = "bold red" if any(at_least(s, fail_on) for s in counts) or any(r.error for r in results) else "green"
    print_wrapped(console, summary_line(results, fail_on), width, style=colour)


def print_fixable(console: Console, results: Sequence[Any], command: str = "") -> None:
    """The `[*] N findings fixable` line, when there are any, with the `check --fix` command
    that fixes them (`command`, "" when the run's command line is not known), wrapped to the
    terminal."""
    from paraminspect.checks import all_rules
    from paraminspect.render.fixes import fixable_lines

    changes = {code: rule.fix.changes_state for code, rule in all_rules().items() if rule.fix is not None}
    width = console.width if console.is_terminal else None
    lines = fixable_lines(results, changes, command)
    for line in lines[:1]:
        print_wrapped(console, line, width)
    for line in lines[1:]:  # the command: broken between words with `\\`, so that it still runs
        for part in shell_lines(printable(line), width):
            console.print(Text(part), soft_wrap=True)


def shell_lines(command: str, width: int | None) -> list[str]:
    """A shell command broken between its words (shell words: a quoted one stays whole) to
    fit `width`, each line but the last ending in ` \\`, continuation lines indented; a word
    longer than the width stays whole. One line when piped."""
    import shlex

    if width is None or cell_width(command) <= width:
        return [command]
    indent = command[: len(command) - len(command.lstrip())]
    try:
        words = [shlex.quote(word) for word in shlex.split(command)]
    except ValueError:
        return [command]
    lines, current = [], indent + words[0]
    for word in words[1:]:
        if cell_width(f"{current} {word} \\") > width:
            lines.append(current + " \\")
            current = f"{indent}    {word}"
        else:
            current += f" {word}"
    return [*lines, current]


def print_rules(console: Console, rules: Sequence[Any]) -> None:
    """One aligned line per rule: code, name, severity, summary (wrapped under itself on a
    terminal)."""
    width = console.width if console.is_terminal else None
    name_width = max((len(r.name) for r in rules), default=0)
    for rule in rules:
        lead = f"{rule.code}  {rule.name:<{name_width}}  {rule.severity:<7}  "
        if width is None or len(lead) + len(rule.summary) <= width:
            line = Text(f"{rule.code}  {rule.name:<{name_width}}  ")
            line.append(f"{rule.severity:<7}", style=SEVERITY_STYLE[rule.severity])
            console.print(line + Text(f"  {rule.summary}"), soft_wrap=True)
            continue
        # too narrow for the summary beside the name: it goes below, indented under the
        # name; the severity too when the aligned columns do not fit
        summary = rule.summary
        line = Text(f"{rule.code}  {rule.name:<{name_width}}  ")
        if len(lead.rstrip()) > width:
            line = Text(shorten_middle(f"{rule.code}  {rule.name}", width))
            summary = f"{rule.severity}: {summary}"
        else:
            line.append(rule.severity, style=SEVERITY_STYLE[rule.severity])
        console.print(line, soft_wrap=True)
        for rest in wrap_text(summary, width, " " * 7):
            console.print(Text(crop(rest, width)), soft_wrap=True)


def explanation_paragraphs(text: str) -> list[str]:
    """The explanation's paragraphs (blank-line separated), each joined into one line, to be
    wrapped to the terminal. Explanations are prose only: their code is `Rule.examples`."""
    return [" ".join(line.strip() for line in block.splitlines()) for block in text.strip().split("\n\n")]


def print_explanation(console: Console, rule: Any) -> None:
    """`explain CODE`: the heading, summary and prose wrapped to the terminal (one line per
    paragraph when piped), what `check --fix` does, then the rule's tested examples."""
    width = console.width if console.is_terminal else None
    print_wrapped(console, f"{rule.code} {rule.name} ({rule.severity})", width, style="bold")
    print_wrapped(console, rule.summary, width)
    for paragraph in explanation_paragraphs(rule.explanation):
        console.print()
        print_wrapped(console, paragraph, width)
    if rule.fix is not None:
        print_fix(console, rule, width)
    print_examples(console, rule, width)


def print_fix(console: Console, rule: Any, width: int | None = None) -> None:
    """What `check --fix` does (its examples are the rule's `fixed` examples)."""
    console.print()
    state = "changes" if rule.fix.changes_state else "does not change"
    heading = f"Automatic fix (check --fix, preview with --diff): {rule.fix.summary}."
    print_wrapped(console, heading, width, style="bold")
    print_wrapped(console, f"It {state} what state_dict() and parameters() hold.", width)


def reported_at(code: str, example: Any) -> str:
    """Where the bad example's finding points, in words."""
    if example.attribute:
        where = f" at `{example.where}`"
    elif example.module:
        where = f" for `{example.module}`"
    elif example.line:
        where = f" at the line with `{example.line.strip()}`"
    else:
        where = " for the whole model"
    how = f" (check --run --input-shape {example.input_shape})" if example.input_shape else ""
    how = f" (--device {example.device})" if example.device else how
    return f"Bad: reported as {code}{where}{how}:"


def _sentence(title: str) -> str:
    """An example's title as a sentence: capitalised unless it starts with code (`nn.Linear`)."""
    first = title.split(" ", 1)[0]
    return (title[0].upper() + title[1:] if first.isalpha() else title) + "."


def _code_line(text: str, width: int | None, style: str = "") -> Text:
    """A line of example code: never wrapped (a broken line reads as two statements); on a
    terminal narrower than the line it is cut at the right edge with `…`, as a finding's
    source line is; piped, it is whole and plain."""
    if width is None:
        return Text(text)
    return Text(crop(text, width), style=style)


def print_examples(console: Console, rule: Any, width: int | None) -> None:
    """The rule's examples as code (tests/test_rule_examples.py builds each one): the bad
    model in full but for its imports, then the lines its good version changes."""
    import difflib

    from paraminspect.checks.rule import EXAMPLE_IMPORTS

    if not rule.examples:
        return
    console.print()
    heading = "Examples (the tests build each: the bad model is reported, the good one is not)"
    print_wrapped(console, heading, width, style="bold")
    for example in rule.examples:
        console.print()
        if example.title:
            print_wrapped(console, _sentence(example.title), width)
        bad = example.bad.removeprefix(EXAMPLE_IMPORTS).strip("\n").splitlines()
        print_wrapped(console, reported_at(rule.code, example), width)
        for line in bad:
            console.print(_code_line(f"    {line}" if line else "", width), soft_wrap=True)
        console.print(Text("Good, as check --fix writes it:" if example.fixed else "Good:"))
        good = example.good.removeprefix(EXAMPLE_IMPORTS).strip("\n").splitlines()
        for line in difflib.unified_diff(bad, good, lineterm="", n=0):
            if line.startswith(("---", "+++", "@@")):
                continue
            style = "red" if line.startswith("-") else "green"
            console.print(_code_line(f"    {line}", width, style), soft_wrap=True)
