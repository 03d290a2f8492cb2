"""What the CLI's commands share: where output goes (stdout, -o, stderr notes), running a
task in a child process, the result cache around a command, and the check report's exit
code. Plain functions; cli.py keeps the Typer definitions."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Optional

from typer.core import TyperCommand, TyperGroup

from paraminspect.errors import ParamInspectError, UsageError

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


state: dict[str, Any] = {"debug": False}


def set_debug(value: bool) -> None:
    """`--debug`, before the subcommand or after it (`show x --debug`)."""
    if value:
        state["debug"] = True


class _PlainFlags:
    """Help lists a boolean flag as `--run`, not `--run <bool>` (typer's rich help shows a
    type for every option, flags included)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params


class PlainFlagsGroup(_PlainFlags, TyperGroup):
    pass


class PlainFlagsCommand(_PlainFlags, TyperCommand):
    pass


class ChildError(ParamInspectError):
    """A task in a child process failed; its traceback (if any) was shown there."""


def notify(message: str) -> None:
    from paraminspect.render.safe import one_line

    sys.stderr.write(_fit_stderr(f"note: {one_line(message)}", indent=len("note: ")) + "\n")


def _fit_stderr(text: str, indent: int) -> str:
    """On a terminal, `text` wrapped at word boundaries to its width, continuation lines
    indented (a path longer than the width stays whole); piped, the one line as it is."""
    try:
        if not sys.stderr.isatty():
            return text
        width = os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return text
    if width <= indent + 10:
        return text
    from paraminspect.render.fit import wrap_text

    return "\n".join(wrap_text(text, width, "", hanging=" " * indent))


def model_output(text: str, label: Optional[str] = None) -> None:
    """What a model's code printed in its child process: on stderr, each line marked as the
    model's and made printable (stdout carries only paraminspect's own output)."""
    from paraminspect.render.safe import printable

    mark = "model output" if label is None else f"model output ({printable(label)})"
    for line in text.splitlines():
        sys.stderr.write(f"{mark}: {printable(line)}\n")


def in_child(task: Any, timeout: float, preload: tuple[str, ...]) -> Any:
    """Run a runner Task in a child process; its value, or the error that ends the command."""
    from paraminspect.runner import INTERNAL, INTERRUPTED, run_one

    outcome = run_one(task, timeout, preload)
    model_output(outcome.output)
    if outcome.ok:
        return outcome.value
    if state["debug"] and outcome.traceback:
        sys.stderr.write(outcome.traceback)
    if outcome.status == INTERRUPTED:
        raise KeyboardInterrupt
    if outcome.status == INTERNAL:
        raise ChildError(
            f"internal error: {outcome.message} (a paraminspect bug; rerun with --debug for the traceback)"
        )
    raise ChildError(outcome.message)


NO_CACHE_HELP = "Run even when an unchanged earlier run could answer from .paraminspect_cache/."


def maybe_cached(specs: list[str], enabled: bool, output_file: Optional[Path], run: Any) -> int:
    """`run()`, or the answer of an earlier run with the same inputs (see paraminspect.cache:
    the command line, versions, config, terminal, and every source file the build imported)."""
    from paraminspect.cache import cache_folder, cacheable, cached_run, project_root

    root = None
    if enabled and not specs:  # the models come from [tool.paraminspect]: judge those
        from paraminspect.config import load_config

        config = load_config()
        specs, root = list(config.models), config.root
    if not enabled or not cacheable(specs, root):
        return run()
    from paraminspect.runner import watch_sources

    parts = {"argv": state.get("argv", []), "debug": state["debug"]}
    return cached_run(cache_folder(project_root()), parts, output_file, run, watch_sources)


@contextmanager
def output_to(path: Optional[Path]) -> Iterator[IO[str]]:
    """stdout, or the -o file (closed before the command returns). A reader that goes away
    (`| head`) ends the output, not the command: its exit code still reports the result
    (click would turn the broken pipe into exit 1, which reads as "findings")."""
    if path is None:
        try:
            yield sys.stdout
        except BrokenPipeError:
            pass  # _finish_output points stdout at /dev/null so nothing writes to the pipe again
        return
    try:
        fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    try:
        yield fh
        fh.close()  # a full disk (ENOSPC, -o /dev/full) shows here or in a write
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        try:
            fh.close()
        except OSError:
            pass


def fix_options(fix: bool, diff: bool, fix_only: Optional[list[str]], persistent: bool) -> Optional[list[str]]:
    """Validate --fix/--diff/--fix-only/--fix-persistent; the --fix-only codes (None: all)."""
    if fix and diff:
        raise UsageError("--diff shows the fixes and changes nothing, --fix applies them: use one of them")
    if not (fix or diff) and (fix_only is not None or persistent):
        raise UsageError(f"{'--fix-only' if fix_only is not None else '--fix-persistent'} needs --fix or --diff")
    if not (fix or diff):
        return None  # a plain check never imports the fix machinery (libcst costs ~1 s)
    from paraminspect.checks.engine import parse_codes
    from paraminspect.fixes.files import fixable_codes

    codes = parse_codes(fix_only, "--fix-only")
    fixable = fixable_codes()
    for code in codes or []:
        if code != "ALL" and not any(c.startswith(code) for c in fixable):
            raise UsageError(f"--fix-only {code}: no rule it names has a fix; rules with fixes: {', '.join(fixable)}")
    return codes


def show_diff(results: list[Any], codes: Optional[list[str]], persistent: bool, output_file: Optional[Path]) -> int:
    """--diff: the unified diff on stdout (or -o), what cannot be fixed on stderr."""
    from paraminspect.fixes.apply import preview
    from paraminspect.fixes.files import fixable_codes, plan_fixes
    from paraminspect.render.fixes import fix_lines
    from paraminspect.render.safe import one_line

    for result in results:
        if result.error is not None:
            message = result.error if len(results) == 1 else result.error_line()
            sys.stderr.write(f"error: {one_line(message)}\n")
    report = preview(plan_fixes(results, codes), persistent)
    with output_to(output_file) as out:
        out.write("".join(report.diffs))
    for line in fix_lines(report, fixable_codes(), persistent=persistent, preview=True):
        sys.stderr.write(line + "\n")
    if any(r.error is not None for r in results):
        return EXIT_ERROR
    return EXIT_FINDINGS if report.diffs else EXIT_OK


def apply_fixes(results: list[Any], codes: Optional[list[str]], persistent: bool, recheck: Any) -> list[Any]:
    """--fix: write, re-check, revert what failed; the re-check's results."""
    from paraminspect.fixes.apply import apply_fixes
    from paraminspect.fixes.files import fixable_codes, plan_fixes
    from paraminspect.render.fixes import fix_lines

    report = apply_fixes(plan_fixes(results, codes), results, recheck, persistent)
    for line in fix_lines(report, fixable_codes(), persistent=persistent, preview=False):
        sys.stderr.write(line + "\n")
    return report.results


def report_check(
    results: list[Any],
    output_format: str,
    output_file: Optional[Path],
    fail_on: str,
    registry: bool = False,
    skipped: Any = (),
    counts_line: Optional[str] = None,
    lenient: frozenset[str] = frozenset(),
    noun: str = "models",
) -> int:
    """Render ModelResults, print load errors on stderr, and pick the exit code. A registry
    run's text report lists the failures itself (apart from the findings). Failures of the
    `lenient` specs (classes found by `check PATH`, without --strict) do not make it 2."""
    from paraminspect.render.safe import one_line

    if not results and not skipped and output_format == "text":
        return EXIT_OK  # `check PATH` found no module class: its note said so
    for result in results:
        if result.error is not None and not (registry and output_format in ("text", "concise")):
            message = result.error if len(results) == 1 else result.error_line()
            sys.stderr.write(f"{'warning' if result.spec in lenient else 'error'}: {one_line(message)}\n")
    style = "concise" if output_format == "concise" else "full"
    with output_to(output_file) as out:
        if output_format == "json":
            from paraminspect.render.json import check_json

            out.write(check_json(results, skipped))
        elif output_format == "github":
            from paraminspect.render.github import check_github

            out.write(check_github(results))
        elif output_format == "sarif":
            from paraminspect import __version__
            from paraminspect.checks import all_rules
            from paraminspect.render.sarif import check_sarif

            out.write(check_sarif(results, list(all_rules().values()), __version__))
        elif registry:
            from paraminspect.render.console import make_console
            from paraminspect.render.registry import print_registry_report

            print_registry_report(make_console(out), results, fail_on, skipped, counts_line, noun, style)
        else:
            from paraminspect.render.console import make_console
            from paraminspect.render.findings import print_findings

            print_findings(make_console(out), results, fail_on, style)
    if any(r.error is not None and r.spec not in lenient for r in results):
        return EXIT_ERROR
    from paraminspect.checks.model import at_least

    failing = any(at_least(f.severity, fail_on) for r in results for f in r.findings)
    return EXIT_FINDINGS if failing else EXIT_OK
