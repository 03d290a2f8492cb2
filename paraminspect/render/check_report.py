"""`check`'s human reports (formats "text" and "concise") of a commands.check.CheckReport:
the findings of one or a few models (render.findings), or a sweep's report (render.sweep)."""

from __future__ import annotations

from typing import IO, Any

from paraminspect.render.console import make_console
from paraminspect.render.findings import CONCISE, FULL, print_findings
from paraminspect.render.sweep import print_sweep_report


def _write(out: IO[str], report: Any, style: str) -> None:
    console = make_console(out)
    if report.registry:  # a sweep or `check PATH`: its report lists the failures itself
        print_sweep_report(
            console,
            report.results,
            report.fail_on,
            report.skipped,
            report.counts_line,
            report.noun,
            style,
            getattr(report, "classes", ()),
            getattr(report, "fix_command", ""),
        )
    else:
        print_findings(console, report.results, report.fail_on, style, getattr(report, "fix_command", ""))


def write_full(out: IO[str], report: Any) -> None:
    """Each finding with its source line."""
    _write(out, report, FULL)


def write_concise(out: IO[str], report: Any) -> None:
    """One line per finding."""
    _write(out, report, CONCISE)
