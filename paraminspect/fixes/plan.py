"""Which findings `check --fix` may fix, where: findings become per-file requests, and the
files they name must lie under the working directory and outside any site-packages (a
library's code, or a virtualenv inside the project, is never rewritten). One plan holds
each file once, so that a run over many models (workers included) has one writer per file.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paraminspect.fixes.rewrite import FixRequest, Rewrite, rewrite_source

_PACKAGE_DIRS = ("site-packages", "dist-packages")


@dataclass(frozen=True)
class NotFixed:
    """A finding of a rule that has fixes, left as it is, and why."""

    finding: Any  # paraminspect.checks.rule.Finding
    reason: str


@dataclass
class FilePlan:
    path: Path
    display: str  # relative to the working directory, with forward slashes
    requests: list[FixRequest] = field(default_factory=list)
    findings: dict[FixRequest, list[Any]] = field(default_factory=dict)  # request -> the findings it fixes


@dataclass
class FixPlan:
    files: list[FilePlan]
    skipped: list[NotFixed]

    @property
    def requests(self) -> int:
        return sum(len(f.requests) for f in self.files)


def fixable_codes() -> dict[str, bool]:
    """Rule code -> whether its fix changes what state_dict()/parameters() hold."""
    from paraminspect.checks import all_rules

    return {code: rule.fix.changes_state for code, rule in all_rules().items() if rule.fix is not None}


def _selected(code: str, only: Sequence[str] | None) -> bool:
    return only is None or any(code.startswith(c) or c == "ALL" for c in only)


def _where(file: str, root: Path) -> tuple[Path | None, str]:
    """(the resolved path, "") for a file we may rewrite, else (None, why not)."""
    path = Path(file).resolve()
    try:
        relative = path.relative_to(root)
    except ValueError:
        return None, "its file is outside the working directory"
    if any(part in _PACKAGE_DIRS for part in relative.parts):
        return None, "its file is an installed package (site-packages)"
    if not path.is_file():
        return None, "its file no longer exists"
    return path, ""


def plan_fixes(results: Iterable[Any], only: Sequence[str] | None = None, root: Path | None = None) -> FixPlan:
    """Requests for the findings (of ModelResults) that have a fix, grouped by file; the
    other findings of rules with fixes go to `skipped` with the reason. `only`: rule
    codes or prefixes (already parsed) whose fixes to apply."""
    root = (root or Path.cwd()).resolve()
    codes = fixable_codes()
    files: dict[Path, FilePlan] = {}
    skipped: list[NotFixed] = []
    for result in results:
        for finding in result.findings:
            if finding.code not in codes or not _selected(finding.code, only):
                continue
            if not finding.fix:
                skipped.append(NotFixed(finding, finding.no_fix or "no automatic fix"))
                continue
            if finding.file is None or finding.line is None:
                skipped.append(NotFixed(finding, "its assignment was not found in the source"))
                continue
            path, why = _where(finding.file, root)
            if path is None:
                skipped.append(NotFixed(finding, why))
                continue
            plan = files.setdefault(path, FilePlan(path, path.relative_to(root).as_posix()))
            request = FixRequest(finding.code, finding.line, finding.attribute, finding.fix)
            if request not in plan.findings:  # one class, several models: one fix
                plan.requests.append(request)
                plan.findings[request] = []
            plan.findings[request].append(finding)
    for plan in files.values():
        plan.requests.sort(key=lambda r: (r.line, r.attribute))
    return FixPlan(sorted(files.values(), key=lambda p: p.display), skipped)


@dataclass(frozen=True)
class SourceFile:
    """A source file as read: its bytes, its encoding (a UTF-8 BOM reads as "utf-8-sig", a
    `# -*- coding: latin-1 -*-` line as "iso-8859-1": written back the same way) and its text
    (line endings as they are)."""

    raw: bytes
    encoding: str
    text: str

    def encode(self, text: str) -> bytes:
        return text.encode(self.encoding)


MAX_SOURCE_BYTES = 64 * 1024**2


def read_source_file(path: Path) -> SourceFile:
    """The file's bytes, encoding and text; a UsageError (one line) when it cannot be read or
    decoded as Python source."""
    import io
    import tokenize

    from paraminspect.atomic import describe, read_bytes
    from paraminspect.errors import UsageError

    try:
        raw = read_bytes(path, MAX_SOURCE_BYTES)
    except OSError as exc:
        raise UsageError(f"cannot fix {path}: {describe(exc)}") from None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        why = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise UsageError(f"cannot fix {path}: it cannot be decoded as Python source ({why})") from None
    return SourceFile(raw, encoding, text)


def read_source(path: Path) -> str:
    return read_source_file(path).text


def refuse_read_only(path: Path) -> None:
    """A UsageError when --fix may not write `path`: no write permission (for this user, or
    no write bit at all: a file marked read-only stays as it is)."""
    import stat

    from paraminspect.errors import UsageError

    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise UsageError(f"cannot fix {path}: {exc.strerror}") from None
    if not stat.S_IMODE(mode) & 0o222 or not os.access(path, os.W_OK):
        raise UsageError(f"cannot fix {path}: it is read-only (no write permission); nothing was changed")


def write_source(path: Path, data: bytes, expected: bytes) -> None:
    """Replace the file's bytes, all or nothing (paraminspect.atomic), unless it no longer
    holds `expected` (edited meanwhile: atomic.FileChanged, the file is left as it is)."""
    from paraminspect.atomic import write_bytes

    write_bytes(path, data, expected=expected)


def rewrite_file(
    plan: FilePlan, source: str, requests: Sequence[FixRequest] | None = None, persistent: bool = False
) -> Rewrite:
    return rewrite_source(source, plan.requests if requests is None else requests, persistent=persistent)


def unified_diff(display: str, before: str, after: str) -> str:
    """`--- a/F` / `+++ b/F` hunks, as git prints them."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{display}", f"b/{display}"
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
