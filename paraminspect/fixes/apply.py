"""`check --diff` and `check --fix`: preview the rewrites, or write them, rebuild and re-check
the models, and revert each fix that did not remove its finding or that broke a build.

The re-check is a callable the caller passes (the CLI's check entry point, building the
models in fresh processes): a model imported before the rewrite must not be served from
this process's import cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paraminspect.checks.rule import FixKind
from paraminspect.fixes.plan import (
    FilePlan,
    FixPlan,
    NotFixed,
    read_source,
    read_source_file,
    refuse_read_only,
    rewrite_file,
    unified_diff,
    write_source,
)
from paraminspect.fixes.rewrite import FixRequest

STILL_REPORTED = "the finding is still reported after the fix"
Recheck = Callable[[], list[Any]]  # -> ModelResult for every model, in the same order


@dataclass(frozen=True)
class Change:
    display: str
    request: FixRequest
    reason: str = ""  # for a reverted fix: why


@dataclass
class FixReport:
    applied: list[Change] = field(default_factory=list)
    reverted: list[Change] = field(default_factory=list)
    skipped: list[NotFixed] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)  # the re-check's results (the input's when nothing was written)
    diffs: list[str] = field(default_factory=list)  # --diff: one unified diff per changed file
    # Files edited by someone else while --fix worked on them: left as that edit made them.
    left: list[str] = field(default_factory=list)


def _refused(plan: FilePlan, outcomes: Sequence[Any]) -> list[NotFixed]:
    return [NotFixed(f, o.reason) for o in outcomes if not o.applied for f in plan.findings[o.request]]


def preview(plan: FixPlan, persistent: bool = False) -> FixReport:
    """The diffs `--fix` would write (before any re-check), and the fixes it cannot make."""
    report = FixReport(skipped=list(plan.skipped))
    for fp in plan.files:
        source = read_source(fp.path)
        rewrite = rewrite_file(fp, source, persistent=persistent)
        report.skipped += _refused(fp, rewrite.outcomes)
        if rewrite.changed:
            report.diffs.append(unified_diff(fp.display, source, rewrite.source))
            report.applied += [Change(fp.display, o.request) for o in rewrite.outcomes if o.applied]
    return report


def _identity(f: Any) -> tuple[str, str, str, str]:
    return (f.model, f.code, f.module, f.attribute)


class _Session:
    """The files as they were, the fixes now active in each, and the last re-check. Every
    write is atomic (a full disk leaves the file as it was) and is made only if the file
    still holds what this session last left there: a file edited meanwhile (while a re-check
    ran) is left as that edit made it, never overwritten or "restored"."""

    def __init__(self, plan: FixPlan, before: Sequence[Any], recheck: Recheck, persistent: bool) -> None:
        self.plan, self.recheck, self.persistent = plan, recheck, persistent
        self.failed_before = {r.spec for r in before if r.error is not None}
        self.originals = {fp.path: read_source_file(fp.path) for fp in plan.files}
        self.written = {path: source.raw for path, source in self.originals.items()}  # on disk now
        self.active: dict[FixRequest, FilePlan] = {}
        self.left: dict[Path, str] = {}  # path -> its display: edited by someone else

    def _put(self, fp: FilePlan, data: bytes) -> None:
        from paraminspect.atomic import FileChanged, describe
        from paraminspect.errors import UsageError

        if fp.path in self.left or data == self.written[fp.path]:
            return
        try:
            write_source(fp.path, data, expected=self.written[fp.path])
        except FileChanged:
            self.left[fp.path] = fp.display
            return
        except OSError as exc:  # a full disk: the file still holds what it held
            raise UsageError(f"cannot write {fp.display}: {describe(exc)}; every file is left as it was") from None
        self.written[fp.path] = data

    def write(self) -> None:
        for fp in self.plan.files:
            requests = [r for r in fp.requests if self.active.get(r) is fp]
            original = self.originals[fp.path]
            text = rewrite_file(fp, original.text, requests, self.persistent).source
            self._put(fp, original.raw if text == original.text else original.encode(text))

    def check(self) -> list[Any]:
        self.write()
        return self.recheck()

    def restore(self) -> None:
        for fp in self.plan.files:
            try:
                self._put(fp, self.originals[fp.path].raw)
            except Exception:  # the others are still restored; this one was never half-written
                continue

    def verdict(self, request: FixRequest, results: Sequence[Any]) -> str:
        """ "" when the fix worked in `results`, else why it is reverted."""
        fp = self.active[request]
        findings = fp.findings[request]
        models = {f.model for f in findings}
        for r in results:
            if r.spec in models and r.error is not None and r.spec not in self.failed_before:
                return f"{r.spec} no longer builds with it: {r.error_line()}"
        remaining = {_identity(f) for r in results for f in r.findings}
        if any(_identity(f) in remaining for f in findings):
            return STILL_REPORTED
        return ""


def apply_fixes(plan: FixPlan, before: Sequence[Any], recheck: Recheck, persistent: bool = False) -> FixReport:
    """Write every fix, re-check, and revert what did not work: a fix whose finding remains
    is reverted at once; when builds broke, the fixes of those models are tried one at a
    time on top of the others. Any exception restores every file first."""
    report = FixReport(skipped=list(plan.skipped), results=list(before))
    for fp in plan.files:  # before anything is written: all files, or none
        refuse_read_only(fp.path)
    session = _Session(plan, before, recheck, persistent)
    for fp in plan.files:
        rewrite = rewrite_file(fp, session.originals[fp.path].text, persistent=persistent)
        report.skipped += _refused(fp, rewrite.outcomes)
        session.active.update((o.request, fp) for o in rewrite.outcomes if o.applied)
    if not session.active:
        return report
    reverted: dict[FixRequest, str] = {}

    def revert(request: FixRequest, why: str) -> None:
        reverted[request] = why
        del session.active[request]

    try:
        results = session.check()
        while True:
            failing = {r: why for r in list(session.active) if (why := session.verdict(r, results))}
            if not failing:
                break
            persisting = {r: why for r, why in failing.items() if why == STILL_REPORTED}
            if persisting or len(failing) == 1:
                # a fix that did nothing (or the only suspect of a broken build) goes first
                for r, why in (persisting or failing).items():
                    revert(r, why)
                results = session.check()
                continue
            # several suspects of a broken build: re-check without them, then add them back
            # one at a time, keeping those that build and remove their finding
            suspects = {r: session.active.pop(r) for r in failing}
            results = session.check()
            for r, fp in suspects.items():
                session.active[r] = fp
                trial = session.check()
                why = session.verdict(r, trial)
                if why:
                    revert(r, why)
                else:
                    results = trial
            session.write()  # the files as `results` saw them
            break
    except BaseException:
        session.restore()
        raise
    report.left = sorted(session.left.values())
    why_reverted: dict[tuple[str, str, str, str], str] = {}
    for fp in plan.files:
        if fp.path in session.left:
            continue  # what it holds is the other edit's: neither applied nor reverted by us
        for r in fp.requests:
            if session.active.get(r) is fp:
                report.applied.append(Change(fp.display, r))
            elif r in reverted:
                report.reverted.append(Change(fp.display, r, reverted[r]))
                why_reverted.update((_identity(f), reverted[r]) for f in fp.findings[r])
    report.results = [_unmark_reverted(result, why_reverted) for result in results]
    return report


def _unmark_reverted(result: Any, why_reverted: dict[tuple[str, str, str, str], str]) -> Any:
    """A finding whose fix was just reverted is not offered as fixable ([*]) again: its
    `no_fix` says why, as for any finding without a fix."""
    if not any(_identity(f) in why_reverted for f in result.findings):
        return result
    findings = tuple(
        dataclasses.replace(f, fix=FixKind.NONE, no_fix=f"--fix was tried and reverted: {why_reverted[_identity(f)]}")
        if _identity(f) in why_reverted
        else f
        for f in result.findings
    )
    return dataclasses.replace(result, findings=findings)
