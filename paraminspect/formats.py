"""The output formats: one table that says, for each `--format`, whether its text depends on
the terminal it is shown on, and which function renders it for each command.

`--format`'s choices, default and help for a command come from here (cli.py asks
`choices`, `default` and `help_text`), and a command renders through `renderer`. To add a
format: one row in FORMATS and the module its renderers live in. A renderer is called as
`function(out, what)`: `what` is the command's result (show: commands.show.ShowResult,
check: commands.check.CheckReport, diff: commands.diff.DiffReport). Imports only the
standard library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

SHOW, CHECK, DIFF, MERGE = "show", "check", "diff", "merge"


@dataclass(frozen=True)
class OutputFormat:
    """One `--format` value. `terminal`: its text depends on the terminal (rich's width and
    colour), so `show` renders it in the CLI's process when stdout is a terminal (elsewhere
    the model's child renders it and sends only the text back); a `check` run lists load
    failures inside such a report instead of on stderr. `renders`: command -> the renderer
    ("module:function"). `shown`: command -> how `--help` names it ("" hides an alias)."""

    name: str
    terminal: bool
    renders: Mapping[str, str]
    shown: Mapping[str, str] = field(default_factory=dict)


FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat("table", True, {SHOW: "paraminspect.render.show_table:write_table"}, shown={SHOW: "table (or text)"}),
    OutputFormat(
        "text",
        True,
        {
            SHOW: "paraminspect.render.show_table:write_table",  # the table, as check's default is text
            CHECK: "paraminspect.render.check_report:write_full",
            DIFF: "paraminspect.render.diff_report:write_text",
            MERGE: "paraminspect.render.check_report:write_full",  # merge renders a check report
        },
        shown={SHOW: "", CHECK: "text (each finding with its source line)"},
    ),
    OutputFormat(
        "concise",
        True,
        {
            CHECK: "paraminspect.render.check_report:write_concise",
            MERGE: "paraminspect.render.check_report:write_concise",
        },
    ),
    OutputFormat(
        "json",
        False,
        {
            SHOW: "paraminspect.render.json:write_show",
            CHECK: "paraminspect.render.json:write_check",
            DIFF: "paraminspect.render.diff_report:write_json",
            MERGE: "paraminspect.render.json:write_check",
        },
    ),
    OutputFormat("csv", False, {SHOW: "paraminspect.render.text:write_csv"}),
    OutputFormat("markdown", False, {SHOW: "paraminspect.render.text:write_markdown"}),
    OutputFormat(
        "html",
        False,
        {SHOW: "paraminspect.render.html:write_show", CHECK: "paraminspect.render.html:write_check"},
        shown={SHOW: "html (one self-contained file: treemap, totals, tensor table)", CHECK: "html"},
    ),
    OutputFormat(
        "github",
        False,
        {CHECK: "paraminspect.render.github:write_check", MERGE: "paraminspect.render.github:write_check"},
    ),
    OutputFormat(
        "sarif", False, {CHECK: "paraminspect.render.sarif:write_check", MERGE: "paraminspect.render.sarif:write_check"}
    ),
)
BY_NAME = {fmt.name: fmt for fmt in FORMATS}


def choices(command: str) -> tuple[str, ...]:
    """The `--format` values `command` accepts, in table order."""
    return tuple(fmt.name for fmt in FORMATS if command in fmt.renders)


def default(command: str) -> str:
    """`command`'s default format: its first."""
    return choices(command)[0]


def help_text(command: str) -> str:
    """`--format`'s help for `command`: `table (or text), json, csv or markdown.`"""
    names = [fmt.shown.get(command, fmt.name) for fmt in FORMATS if command in fmt.renders]
    names = [name for name in names if name]
    if len(names) == 1:
        return f"{names[0]}."
    return f"{', '.join(names[:-1])} or {names[-1]}."


def get(name: str) -> OutputFormat:
    """The format called `name` (a name `choices` listed)."""
    return BY_NAME[name]


def renderer(name: str, command: str) -> Callable[[IO[str], Any], None]:
    """The function that writes `command`'s result in format `name` (imported on first use)."""
    module_name, _, function = BY_NAME[name].renders[command].partition(":")
    found: Callable[[IO[str], Any], None] = getattr(importlib.import_module(module_name), function)
    return found
