"""The one way every finding is finished, whichever pass found it (the built model's static
rules, `check --run`'s forward pass, a static pass over source files): rules switched off by
select/ignore are dropped, as are findings whose tensor names an `allow` glob matches and
findings on a `# noqa` line; the rest get the catalog's severity and the model's spec, in a
stable order. No printing, no torch import."""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from paraminspect.checks import all_rules
from paraminspect.checks.rule import Finding
from paraminspect.errors import UsageError
from paraminspect.sources import SourceLocation, is_suppressed

ALL = "ALL"


def parse_codes(values: Iterable[str] | None, where: str) -> list[str] | None:
    """Rule codes or prefixes (`PI004`, `PI00`, `ALL`), comma-separated or repeated ->
    upper-cased list; None when nothing was given. Unknown ones raise UsageError."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    codes = list(all_rules())
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise UsageError(f"{where}: expected rule codes (strings), got {value!r}")
        for part in value.split(","):
            code = part.strip().upper()
            if not code:
                continue
            if code != ALL and not any(c.startswith(code) for c in codes):
                close = difflib.get_close_matches(code, codes, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise UsageError(
                    f"unknown rule code {part.strip()!r} in {where}{hint}: run `paraminspect rules` for the list"
                )
            out.append(code)
    return out


def _specificity(code: str, patterns: Sequence[str]) -> int:
    """Length of the longest pattern matching `code` (ALL counts as 0), -1 when none does."""
    best = -1
    for p in patterns:
        if p == ALL:
            best = max(best, 0)
        elif code.startswith(p):
            best = max(best, len(p))
    return best


def enabled_rules(select: Sequence[str] | None = None, ignore: Sequence[str] | None = None) -> list[Any]:
    """Rules switched on by `select` (default: all) and not switched off by `ignore`. As in
    ruff, the more specific code wins (`--select PI003 --ignore PI00` keeps PI003); on a tie
    ignore wins."""
    select = [ALL] if select is None else list(select)
    ignore = list(ignore or [])
    out = []
    for code, rule in all_rules().items():
        chosen = _specificity(code, select)
        if chosen >= 0 and chosen > _specificity(code, ignore):
            out.append(rule)
    return out


def name_allowed(name: str, patterns: Sequence[str]) -> bool:
    """Whether a tensor name matches an `allow` glob. The glob matches the whole dotted name
    (`*` crosses dots); a leading `*.` also matches at the root: `*.rope_cache` matches
    `rope_cache` as well as `blocks.0.rope_cache`."""
    return any(
        fnmatch.fnmatchcase(name, p) or (p.startswith("*.") and fnmatch.fnmatchcase(name, p[2:])) for p in patterns
    )


def finalise(
    findings: Iterable[Finding],
    *,
    spec: str = "",
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    allow: Sequence[str] | None = None,
    suppressed: list[Any] | None = None,
    sort_key: Callable[[Finding], Any] | None = None,
) -> list[Finding]:
    """The findings to report. `select`/`ignore`: rule codes or prefixes (engine.parse_codes);
    `suppressed`: findings left out by `# noqa` are appended to it; `sort_key`: the order
    within the code order (default: the order found)."""
    rules = {r.code: r for r in enabled_rules(parse_codes(select, "select"), parse_codes(ignore, "ignore"))}
    allow = list(allow or [])
    out = []
    for finding in findings:
        rule = rules.get(finding.code)
        if rule is None:
            continue
        if allow and any(name_allowed(n, allow) for n in finding.names):
            continue
        location = SourceLocation(finding.file, finding.line) if finding.file and finding.line else None
        if is_suppressed(rule.code, location):
            if suppressed is not None:
                suppressed.append(finding)
            continue
        out.append(dataclasses.replace(finding, severity=rule.severity, model=spec))
    out.sort(key=sort_key or (lambda f: f.code))  # stable: within a rule, the order found
    return out
