"""`check --fix` and `check --diff`: which fixes were asked for, the unified diff (--diff) or
the files rewritten and checked again (--fix), and the lines that say what was done. The fix
machinery (LibCST, ~1 s to import) is imported only when one of them is given."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

from paraminspect.errors import UsageError


def fix_codes(fix: bool, diff: bool, fix_only: Optional[list[str]], persistent: bool) -> Optional[list[str]]:
    """Validate --fix/--diff/--fix-only/--fix-persistent; the --fix-only codes (None: all)."""
    if fix and diff:
        raise UsageError("--diff shows the fixes and changes nothing, --fix applies them: use one of them")
    if not (fix or diff) and (fix_only is not None or persistent):
        raise UsageError(f"{'--fix-only' if fix_only is not None else '--fix-persistent'} needs --fix or --diff")
    if not (fix or diff):
        return None  # a plain check never imports the fix machinery
    from paraminspect.checks.finalise import parse_codes
    from paraminspect.fixes.plan import fixable_codes

    codes = parse_codes(fix_only, "--fix-only")
    fixable = fixable_codes()
    for code in codes or []:
        if code != "ALL" and not any(c.startswith(code) for c in fixable):
            raise UsageError(f"--fix-only {code}: no rule it names has a fix; rules with fixes: {', '.join(fixable)}")
    return codes


def fix_command(models: Sequence[str], kwargs: dict[str, Any]) -> str:
    """The command line that fixes this run's models: `paraminspect check --fix MODEL...`
    with its `-a` arguments, quoted for a POSIX shell."""
    import shlex

    words = ["paraminspect", "check", "--fix", *(_relative(m) for m in models)]
    for name, value in kwargs.items():
        words += ["-a", f"{name}={value if isinstance(value, str) and _plain(value) else repr(value)}"]
    return shlex.join(words)


def _relative(spec: str) -> str:
    """A MODEL spec whose file is an absolute path below the working directory, relative
    to it (the command runs from there): shorter to read and to copy."""
    import os

    path, sep, attr = spec.partition(":") if spec.startswith("/") else (spec, "", "")
    if not path.startswith("/") or not os.path.exists(path):
        return spec
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return spec
    return spec if relative.startswith("..") else f"{relative}{sep}{attr}"


def _plain(text: str) -> bool:
    """A string `-a` reads back as itself (not a Python literal: `tiny`, not `4` or `None`)."""
    import ast

    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return True
    return False


def show_diff(results: list[Any], codes: Optional[list[str]], persistent: bool, output_file: Optional[Path]) -> int:
    """--diff: the unified diff on stdout (or -o), what cannot be fixed on stderr."""
    from paraminspect.commands.output import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, error_line, output_to, stderr_lines
    from paraminspect.fixes.apply import preview
    from paraminspect.fixes.plan import fixable_codes, plan_fixes
    from paraminspect.render.fixes import fix_lines

    for result in results:
        if result.error is not None:
            error_line(result.error if len(results) == 1 else result.error_line())
    fix_report = preview(plan_fixes(results, codes), persistent)
    with output_to(output_file) as out:
        out.write("".join(fix_report.diffs))
    stderr_lines(fix_lines(fix_report, fixable_codes(), persistent=persistent, preview=True))
    if any(r.error is not None for r in results):
        return EXIT_ERROR
    return EXIT_FINDINGS if fix_report.diffs else EXIT_OK


def fix_and_recheck(
    results: list[Any], codes: Optional[list[str]], persistent: bool, recheck: Callable[[], list[Any]]
) -> list[Any]:
    """--fix: write, re-check, revert what failed; the re-check's results."""
    from paraminspect.commands.output import notify, stderr_lines
    from paraminspect.fixes.apply import apply_fixes as apply
    from paraminspect.fixes.plan import fixable_codes, plan_fixes
    from paraminspect.render.fixes import fix_lines

    fix_report = apply(plan_fixes(results, codes), results, recheck, persistent)
    stderr_lines(fix_lines(fix_report, fixable_codes(), persistent=persistent, preview=False))
    for display in fix_report.left:
        notify(f"{display} was edited while --fix re-checked it: that edit is kept, the file is left as it is")
    return fix_report.results
