"""The lines `check --fix` / `--diff` print on stderr: each fix made, reverted or not made,
and a summary that says which fixes change state_dict()/parameters(). Plain text."""

from __future__ import annotations

from typing import Any

from paraminspect.checks.rule import FixKind
from paraminspect.render.formatting import printable
from paraminspect.render.github import display_path
from paraminspect.wording import plural


def _skipped_lines(report: Any) -> list[str]:
    seen = set()
    lines = []
    for s in report.skipped:
        f = s.finding
        key = (f.file, f.line, f.code, f.module, f.attribute)
        if key in seen:
            continue
        seen.add(key)
        where = display_path(f.file)
        where = f"{where}:{f.line} " if where is not None else ""
        target = f"{f.module}.{f.attribute}" if f.module else f.attribute
        lines.append(printable(f"not fixed: {where}{f.code} {target}: {s.reason}"))
    return lines


def state_note(codes: set[str], changes_state: dict[str, bool], persistent: bool) -> str:
    """Which of the fixes made (or shown) change what checkpoints and optimizers see."""
    changing = sorted(c for c in codes if changes_state.get(c))
    parts = []
    if changing:
        parts.append(
            f"the {', '.join(changing)} fixes change what state_dict() and parameters() hold: "
            "re-save checkpoints and rebuild optimizers"
        )
    if "PI002" in codes:
        parts.append(
            "PI002 buffers are registered persistent (state_dict() gains them)"
            if persistent
            else "PI002 buffers are non-persistent: state_dict() and existing checkpoints are unchanged "
            "(--fix-persistent saves them)"
        )
    return "; ".join(parts)


def fix_lines(report: Any, changes_state: dict[str, bool], *, persistent: bool, preview: bool) -> list[str]:
    """One line per fix made (or, with `preview`, to be made), reverted and not made, then a summary."""
    lines = []
    verb = "would fix" if preview else "fixed"
    for c in report.applied:
        r = c.request
        lines.append(printable(f"{verb}: {c.display}:{r.line} {r.code} {r.attribute} -> {FixKind(r.kind).spelled}"))
    for c in report.reverted:
        r = c.request
        lines.append(printable(f"reverted: {c.display}:{r.line} {r.code} {r.attribute}: {c.reason}"))
    lines += _skipped_lines(report)
    counts = [f"{plural(len(report.applied), 'fix', 'fixes')} {'to apply' if preview else 'applied'}"]
    if report.reverted:
        counts.append(f"{len(report.reverted)} reverted")
    not_fixed = len(_skipped_lines(report))
    if not_fixed:
        counts.append(f"{not_fixed} not fixable automatically")
    summary = ", ".join(counts)
    note = state_note({c.request.code for c in report.applied}, changes_state, persistent)
    lines.append(f"{summary}{'; ' + note if note else ''}.")
    return lines


def fixable_lines(results: Any, changes_state: dict[str, bool], command: str = "") -> list[str]:
    """For the text report: how many findings `--fix` can fix ([*]) and which of those fixes
    change state_dict()/parameters(), then the command that fixes them on a line of its own
    (`command`: `paraminspect check --fix MODEL...` as this run was asked for; "" unknown);
    nothing when none can be fixed."""
    codes = [f.code for r in results for f in r.findings if f.fix]
    if not codes:
        return []
    changing = sorted(c for c in set(codes) if changes_state.get(c))
    text = f"[*] {plural(len(codes), 'finding')} fixable"
    if not command:
        text += " with `paraminspect check --fix` (preview: --diff)"
    if changing:
        text += f"; the {', '.join(changing)} fixes change what state_dict() and parameters() hold"
    if not command:
        return [text + "."]
    them = "it" if len(codes) == 1 else "them"
    return [text + f". Fix {them} (--diff instead of --fix previews the changes):", f"    {command}"]
