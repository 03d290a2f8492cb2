"""`check PATH`'s report: the built models' results joined with the static pass's findings,
and every module class in exactly one coverage category, the first that applies:

- built: built on its own (with no arguments, the args table's, or arguments found in the
  project) and checked;
- as_part: instantiated inside a model that was built (credited to the first such model);
- static_only: read by the static pass only (its construction path could be followed);
- not_checked: none of these (its file could not be read, its construction path could not
  be followed and it was not built).

A class both built and read gives one finding per attribute: the built one's (exact: names,
module path), with the static line when the built one has none. Plain data; no torch."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from paraminspect.checks.finalise import finalise
from paraminspect.checks.model_result import ModelResult
from paraminspect.checks.rule import STATIC, Finding, FixKind
from paraminspect.discover.files import spec_path
from paraminspect.discover.found import SkippedClass
from paraminspect.discover.paths import PathClass, PathRun, class_key
from paraminspect.static.model import VAR_KEYWORD, VAR_POSITIONAL
from paraminspect.wording import plural

BUILT, AS_PART, STATIC_ONLY, NOT_CHECKED = "built", "as_part", "static_only", "not_checked"
CATEGORIES = (BUILT, AS_PART, STATIC_ONLY, NOT_CHECKED)
# Codes that name the same mistake seen by the two engines (a plain tensor: PI001 when the
# built one has requires_grad=True; containers: PI003 tensors or Parameters, PI004 modules).
_SAME = {"PI001": "tensor", "PI002": "tensor", "PI003": "container", "PI004": "container"}


@dataclass(frozen=True)
class ClassCoverage:
    """One module class in the report. `arguments`: (kind, file, line) of the arguments it
    was built with when they came from the project or the args table; `part_of`: the spec of
    the first built model holding an instance of it; `reason`: why it was not built."""

    model: str
    file: str
    line: int | None
    category: str
    arguments: tuple[str, str, int | None] | None = None
    part_of: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class PathReport:
    """The results to render (built models with the static findings merged in, classes read
    from the source only, failures), every class's coverage, the counts, the skip lines,
    which failures do not change the exit code (`lenient`), and, when no class could be
    checked at all, why (`unchecked`: exit 2)."""

    results: list[ModelResult]
    classes: tuple[ClassCoverage, ...]
    coverage: dict[str, int]
    skipped: tuple[SkippedClass, ...]
    counts_line: str
    lenient: frozenset[str]
    unchecked: str | None = None


def _family(code: str) -> str:
    return _SAME.get(code, code)


def _static_findings(
    run: PathRun, report: Any, plan: Any
) -> tuple[dict[tuple[str, str], list[Finding]], dict[str, int]]:
    """The static findings of each class (by class key), finished as every finding is (select,
    ignore, per-model ignores, allow, noqa, severity); and the noqa-suppressed count by spec."""
    by_key = {c.key: c for c in run.classes}
    grouped: dict[tuple[str, str], list[Any]] = {}
    for f in report.findings:
        grouped.setdefault(class_key(f.cls_file or f.file, f.cls), []).append(f)
    options = plan.options or {}
    out: dict[tuple[str, str], list[Finding]] = {}
    suppressed: dict[str, int] = {}
    for key, items in grouped.items():
        cls = by_key.get(key)
        spec = cls.spec if cls is not None else f"{spec_path_of(key[0])}:{key[1]}"
        findings = [
            Finding(
                code=f.code,
                severity=f.severity,
                module="",
                attribute=f.attribute,
                names=tuple(f.names),
                message=f.message,
                file=f.file,
                line=f.line,
                fix=FixKind(f.fix) if f.fix else FixKind.NONE,
                no_fix=f.no_fix,
                evidence=STATIC,
            )
            for f in items
        ]
        dropped: list[Any] = []
        ignore = [*(options.get("ignore") or ()), *plan.config.ignores_for(spec)]
        out[key] = finalise(
            findings,
            spec=spec,
            select=options.get("select"),
            ignore=ignore,
            allow=options.get("allow"),
            suppressed=dropped,
        )
        suppressed[spec] = len(dropped)
    return out, suppressed


def spec_path_of(file: str) -> str:
    from pathlib import Path

    return spec_path(Path(file))


def _merge(built: list[Finding], static: list[Finding], paths: set[str]) -> tuple[list[Finding], list[Finding]]:
    """(the built findings, a static line given to those without one; the static findings the
    built ones do not cover). `paths`: the module paths of the class's instances."""
    kept = []
    built = list(built)
    for s in static:
        match = [
            i
            for i, b in enumerate(built)
            if b.module in paths and b.attribute == s.attribute and _family(b.code) == _family(s.code)
        ]
        if not match:
            kept.append(s)
            continue
        for i in match:
            if built[i].file is None or built[i].line is None:
                built[i] = dataclasses.replace(built[i], file=s.file, line=s.line)
    return built, kept


def _read_only(facts: PathFacts, part: tuple[str, str] | None, own: ModelResult | None, guess_failed: bool) -> str:
    """What a class whose findings come from the static pass alone was (the model header's
    "-> ..." in the text report)."""
    if facts.static_only:
        return "read from the source (--static)"
    if guess_failed:
        return "read from the source; it does not build without arguments"
    if part is not None:
        return f"read from the source; built as part of {part[0]}, where this did not show"
    if own is not None and own.error is not None:
        return "read from the source; it could not be built"
    return "read from the source, not built"


_MODEL_WIDE = ("PI006", "PI007", "PI008", "PI009")  # about the whole model, not one class's attribute


def _collapse_parts(
    merged: dict[str, ModelResult],
    classes_at: dict[str, dict[str, tuple[str, str]]],
    own_built: dict[tuple[str, str], str],
    credit: dict[tuple[str, str], tuple[str, str]],
) -> None:
    """A finding inside a part (`blocks.1.norm.eps`) of a project class is reported once,
    where its class is checked: in the class's own result when it was built, else at its
    first instance (the model it is credited to); the same finding elsewhere is dropped. A
    finding that only shows in one instance (a branch another configuration takes) stays
    where it is, and so do findings inside library classes (`credit` holds project classes
    only): each model's own use of a library module is its own."""

    def has(spec: str, path: str, f: Finding) -> bool:
        return any(
            g.module == path and g.attribute == f.attribute and _family(g.code) == _family(f.code)
            for g in merged[spec].findings
        )

    for spec, result in list(merged.items()):
        if result.error is not None or spec not in classes_at:
            continue
        kept = []
        for f in result.findings:
            key = classes_at[spec].get(f.module) if f.module and f.code not in _MODEL_WIDE else None
            home = (own_built[key], "") if key in own_built else credit.get(key) if key is not None else None
            if home is not None and home != (spec, f.module) and home[0] in merged and has(*home, f):
                continue
            kept.append(f)
        if len(kept) != len(result.findings):
            merged[spec] = dataclasses.replace(result, findings=tuple(kept))


def _given(cls: PathClass) -> bool:
    """Built with arguments that were configured (the args table) or found in the project: a
    real call, whose failure is the project's."""
    if cls.guessed:
        return False
    return cls.target and (cls.with_source or (cls.found is not None and bool(cls.found.kwargs)))


def _guess(cls: PathClass) -> tuple[str, str]:
    """For a class built with guessed arguments (its defaults, nothing for `*args, **kwargs`,
    or its base's found call): (what failed, the call a way out shows); ("", "") otherwise."""
    from paraminspect.static.args import takes_anything

    if not cls.guessed:
        return "", ""
    record = cls.record
    borrowed = getattr(cls.source, "borrowed_from", "") if cls.with_source else ""
    if borrowed:
        where = f"{spec_path_of(cls.source.file)}:{cls.source.line}"
        base = borrowed.rpartition(".")[2]
        what = f"the call of its base {base} ({where}), with it called instead, does not build it"
    elif record is not None and record.params_known and takes_anything(record):
        what = "no arguments were found for its *args, **kwargs and it does not build without them"
    else:
        what = "its defaults do not build it"
    named = [p.name for p in record.params if p.kind not in (VAR_POSITIONAL, VAR_KEYWORD)] if record else []
    shown = ", ".join(f"{n}=..." for n in named) if record is not None and record.params_known and named else "..."
    return what, f"{cls.qualname}({shown if len(named) <= 3 else '...'})"


def _guess_failed(cls: FactClass, error: str) -> str:
    """Why a class tried with guessed arguments is read by the static pass only, and a
    working way to check it built."""
    cause = error.split(" raised ", 1)[1] if " raised " in error else error
    return (
        f"{cls.spec}: {cls.guess} ({cause}); give it arguments in pyproject.toml under [tool.paraminspect.args] "
        f'("{cls.spec}" = "{cls.guess_call}"), or list a factory that builds it in [tool.paraminspect] models'
    )


def _arguments(cls: PathClass, config: Any) -> tuple[str, str, int | None] | None:
    if cls.with_source:
        return cls.source.kind, cls.source.file, cls.source.line or None
    if cls.found is not None and cls.found.kwargs:
        from paraminspect.static.args.model import ARGS_TABLE

        where = cls.source.file if cls.source is not None else str(config.path or "pyproject.toml")
        line = cls.source.line if cls.source is not None else None
        return ARGS_TABLE, where, line or None
    return None


@dataclass(frozen=True)
class FactClass:
    """One module class of a path run as the report needs it, before any build: plain data
    (a shard's JSON carries it, so that `merge` joins the shards' builds exactly as the
    unsplit run would). `key`: discover.paths.class_key; `read`: the static pass read its
    construction path; `needs_arguments`: not built because arguments were not found;
    `arguments`: where its build arguments come from (if built); `static`: its static
    findings, finished; `suppressed`: those a noqa comment left out. `guess`: built with
    guessed arguments (its defaults...): what a failure to build means, and `guess_call` the
    call a way out shows (a failure is then no failure: static only); `given`: built with
    configured or found arguments (a failure exits 2, --strict or not)."""

    spec: str
    key: tuple[str, str]
    file: str
    line: int | None
    target: bool
    reason: str
    read: bool
    note: str
    needs_arguments: bool
    arguments: tuple[str, str, int | None] | None
    static: tuple[Finding, ...] = ()
    suppressed: int = 0
    guess: str = ""
    guess_call: str = ""
    given: bool = False


@dataclass(frozen=True)
class PathFacts:
    """Everything build_report needs from a path run but the built results (plain data):
    the classes in order, the files that failed (shown path, one line), the paths given."""

    paths: tuple[str, ...]
    static_only: bool
    classes: tuple[FactClass, ...]
    file_failures: tuple[tuple[str, str], ...]


def path_facts(run: PathRun, plan: Any, report: Any = None) -> PathFacts:
    """The run's classes and static findings (of `report`, default the run's; after --fix, a
    fresh scan), finished, as plain data."""
    report = report or run.static
    static, suppressed = _static_findings(run, report, plan)
    failed_files = {f.file for f in report.failures}
    rows = []
    for cls in run.classes:
        needs = cls.found is not None and not cls.target and not cls.found.abstract and bool(cls.found.missing)
        guess, call = _guess(cls)
        rows.append(
            FactClass(
                spec=cls.spec,
                key=cls.key,
                file=cls.file,
                line=cls.line,
                target=cls.target,
                reason=cls.reason,
                read=cls.record is not None and cls.record.analysed and cls.file not in failed_files,
                note=cls.record.note if cls.record is not None else "",
                needs_arguments=needs and not cls.reason.startswith("its file"),
                arguments=_arguments(cls, plan.config) if cls.target else None,
                static=tuple(static.pop(cls.key, ())),
                suppressed=suppressed.get(cls.spec, 0),
                guess=guess,
                guess_call=call,
                given=_given(cls),
            )
        )
    failures = [(shown, why) for shown, why in run.discovery.import_failures]
    failures += [(spec_path_of(f.file), f.reason) for f in report.failures]
    return PathFacts(tuple(run.paths), run.static_only, tuple(rows), tuple(failures))


def build_report(run: PathRun, built: Sequence[ModelResult], plan: Any, strict: bool, report: Any = None) -> PathReport:
    """Join the results of the run's targets (`built`, any order) with the static findings
    of `report` (default: the run's; after --fix, a fresh scan). `built` may also hold the
    models named beside the path (`check src/ src/model.py:build`): the project classes
    they build are credited to them ("as parts"), their findings are reported once, and
    they come first in the results; only the path's own classes are counted and lenient."""
    order = {target.spec: i for i, target in enumerate(run.targets)}
    in_order = sorted(built, key=lambda r: order.get(r.spec, len(order)))
    return assemble(path_facts(run, plan, report), in_order, strict)


def assemble(facts: PathFacts, built: Sequence[ModelResult], strict: bool) -> PathReport:
    """The report of a path run from its facts and the results of its targets (`built`, in
    target order: the first model holding a class is credited with it), and of any model
    named beside the path (see build_report)."""
    # A class tried with guessed arguments that did not build is not a failure: it is read
    # from the source only, and listed with the way out (never exit 2, not even --strict).
    tried = {r.spec: r for r in built}
    guess_failed = {
        c.spec: _guess_failed(c, r.error)
        for c in facts.classes
        if c.guess and (r := tried.get(c.spec)) is not None and r.error is not None
    }
    built = [r for r in built if r.spec not in guess_failed]
    own_specs = {c.spec for c in facts.classes if c.target}
    results_by_spec = {r.spec: r for r in built}
    instances: dict[tuple[str, str], list[tuple[str, set[str]]]] = {}
    credit: dict[tuple[str, str], tuple[str, str]] = {}  # class -> (model, path) of its first instance
    classes_at: dict[str, dict[str, tuple[str, str]]] = {}  # model -> module path -> class
    for result in built:
        if result.error is not None:
            continue
        at = classes_at.setdefault(result.spec, {})
        for file, qualname, paths in result.parts:
            key = class_key(file, qualname)
            instances.setdefault(key, []).append((result.spec, set(paths)))
            at.update(dict.fromkeys(paths, key))
            # a path class's own root is the class itself; a named model's root is a part it builds
            inner = [p for p in paths if p or result.spec not in own_specs]
            if inner:
                credit.setdefault(key, (result.spec, inner[0]))
    merged: dict[str, ModelResult] = {}
    from_source: dict[str, ModelResult] = {}
    for result in built:
        merged[result.spec] = result
    for cls in facts.classes:
        own = results_by_spec.get(cls.spec) if cls.target else None
        kept = list(cls.static)
        for spec, paths in instances.get(cls.key, []):
            holder = merged[spec]
            new_findings, kept = _merge(list(holder.findings), kept, paths)
            merged[spec] = dataclasses.replace(holder, findings=tuple(new_findings))
        if own is not None and own.error is None:
            holder = merged[own.spec]
            merged[own.spec] = dataclasses.replace(
                holder, findings=holder.findings + tuple(kept), suppressed=holder.suppressed + cls.suppressed
            )
        elif kept or cls.suppressed:
            from_source[cls.spec] = ModelResult(
                spec=cls.spec,
                resolved=_read_only(facts, credit.get(cls.key), own, cls.spec in guess_failed),
                findings=tuple(kept),
                suppressed=cls.suppressed,
                from_source=True,
            )
    own_built = {c.key: c.spec for c in facts.classes if c.target and c.spec in merged and merged[c.spec].error is None}
    keys = {c.key for c in facts.classes}
    project_credit = {key: home for key, home in credit.items() if key in keys}
    _collapse_parts(merged, classes_at, own_built, project_credit)
    coverage_rows: list[ClassCoverage] = []
    skipped: list[SkippedClass] = []
    for cls in facts.classes:
        own = results_by_spec.get(cls.spec) if cls.target else None
        reason = guess_failed.get(cls.spec, cls.reason)
        if own is not None and own.error is not None:
            reason = own.error
        if own is not None and own.error is None:
            category = BUILT
        elif cls.key in credit:
            category = AS_PART
        elif cls.read:
            category = STATIC_ONLY
        else:
            category = NOT_CHECKED
            if cls.note and not reason:
                reason = cls.note
        coverage_rows.append(
            ClassCoverage(
                cls.spec,
                cls.file,
                cls.line,
                category,
                cls.arguments if own is not None else None,
                credit[cls.key][0] if category == AS_PART else None,
                "" if category == BUILT else reason,
            )
        )
        if cls.needs_arguments and category != AS_PART:
            skipped.append(SkippedClass(cls.spec, cls.reason))
        elif cls.spec in guess_failed and category != AS_PART:
            skipped.append(SkippedClass(cls.spec, reason))
    results: list[ModelResult] = [merged.pop(r.spec) for r in built if r.spec not in own_specs and r.spec in merged]
    for cls in facts.classes:
        if cls.spec in merged:
            results.append(merged.pop(cls.spec))
        if cls.spec in from_source:
            results.append(from_source.pop(cls.spec))
    results += list(merged.values()) + list(from_source.values())
    file_failures = [ModelResult(spec=shown, error=why) for shown, why in facts.file_failures]
    results += file_failures
    counts = {category: sum(1 for c in coverage_rows if c.category == category) for category in CATEGORIES}
    coverage = {"classes": len(coverage_rows), **counts}
    build_failures = [r for r in built if r.error is not None and r.spec in own_specs]
    # A class built from configured or found arguments that fails is a real call that fails:
    # exit 2. One whose __init__ takes nothing (or a crash, a timeout) only with --strict.
    given = {c.spec for c in facts.classes if c.given}
    lenient = frozenset() if strict else frozenset(r.spec for r in build_failures if r.spec not in given)
    return PathReport(
        results,
        tuple(coverage_rows),
        coverage,
        tuple(skipped),
        _counts_line(facts, coverage, len(build_failures), len(file_failures)),
        lenient,
        _unchecked(facts, coverage_rows),
    )


def shard_report(
    facts: PathFacts, built: Sequence[ModelResult], strict: bool, owned: set[str], first: bool
) -> PathReport:
    """The part of a path run one `--shard` reports: the classes it built (`owned` specs),
    and with `first` (shard 1) every class that is no build target and the files that
    failed. The cross-shard joins (a class credited as a part of a model another shard built,
    a static finding that model shows) are `merge`'s: it assembles every shard's results."""
    full = assemble(facts, built, strict)
    mine = {c.spec for c in facts.classes if c.spec in owned or (first and not c.target)}
    failures = {shown for shown, _ in facts.file_failures} if first else set()
    rows = tuple(c for c in full.classes if c.model in mine)
    counts = {category: sum(1 for c in rows if c.category == category) for category in CATEGORIES}
    coverage = {"classes": len(rows), **counts}
    own_facts = dataclasses.replace(
        facts,
        classes=tuple(c for c in facts.classes if c.spec in mine),
        file_failures=tuple(f for f in facts.file_failures if f[0] in failures),
    )
    build_failures = sum(1 for r in full.results if r.error is not None and r.spec in mine)  # guesses left out
    return PathReport(
        [r for r in full.results if r.spec in mine or (r.error is not None and r.spec in failures)],
        rows,
        coverage,
        tuple(s for s in full.skipped if s.model in mine),
        _counts_line(own_facts, coverage, build_failures, len(own_facts.file_failures)),
        full.lenient,
    )


def _counts_line(facts: PathFacts, coverage: dict[str, int], build_failures: int, file_failures: int) -> str:
    """`15 module classes in 5 files: 4 built, 7 as parts, 4 static only, 0 not checked.`"""
    files = len({c.file for c in facts.classes})
    line = (
        f"{plural(coverage['classes'], 'module class', 'module classes')} in {plural(files, 'file')}: "
        f"{coverage[BUILT]} built, {coverage[AS_PART]} as parts, {coverage[STATIC_ONLY]} static only, "
        f"{coverage[NOT_CHECKED]} not checked"
    )
    if facts.static_only:
        line += " (--static: nothing built)"
    if build_failures:
        line += f"; {build_failures} could not be built"
    if file_failures:
        line += f"; {plural(file_failures, 'file')} could not be read or imported"
    return line + "."


def _unchecked(facts: PathFacts, rows: Sequence[ClassCoverage]) -> str | None:
    """Why exit 2: module classes were found and none of them could be checked."""
    if not rows or any(r.category != NOT_CHECKED for r in rows):
        return None
    reasons = list(dict.fromkeys(r.reason for r in rows if r.reason))
    why = f": {reasons[0]}" if reasons else ""
    return (
        f"none of the {plural(len(rows), 'module class', 'module classes')} under {', '.join(facts.paths)} "
        f"could be checked{why}"
    )
