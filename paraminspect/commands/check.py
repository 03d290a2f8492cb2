"""`paraminspect check MODEL...|PATH`: its options, what runs in each model's child process
(check_model: load, unwrap, inventory, the rules), the many-model run and the report. The
plan (config, globs) is in check_plan.py, --fix/--diff in check_fixes.py. Imports only the
standard library and paraminspect.formats at module level: the CLI imports it to unpickle
results, model processes preload it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from paraminspect import formats

CHECK_TARGET = "paraminspect.commands.check:check_in_child"


@dataclass(frozen=True)
class CheckOptions:
    """`check`'s command line, validated by cli.py (run: a forward.examples.RunOptions)."""

    models: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    device: Optional[str] = None
    select: Optional[list[str]] = None
    ignore: Optional[list[str]] = None
    fail_on: Optional[str] = None
    output_format: str = formats.default(formats.CHECK)
    output_file: Optional[Path] = None
    run: Any = None
    trust_pickle: bool = False
    trust_remote_code: bool = False
    jobs: Optional[int] = None
    fix: bool = False
    diff: bool = False
    fix_codes: Optional[list[str]] = None  # --fix-only (None: every fixable rule)
    fix_persistent: bool = False
    oversubscribe: bool = False
    timeout: Optional[float] = None
    no_cache: bool = False
    strict: bool = False


@dataclass(frozen=True)
class CheckReport:
    """What a check renderer gets (see paraminspect.formats)."""

    results: Sequence[Any]  # checks.model_result.ModelResult
    fail_on: str
    registry: bool = False  # a sweep or `check PATH`: the sweep report
    skipped: Sequence[Any] = ()  # discover.found.Skipped
    counts_line: Optional[str] = None
    noun: str = "models"


# --- in the model's child process ------------------------------------------------------


def check_model(
    spec: str,
    kwargs: dict[str, Any] | None = None,
    device: str | None = None,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    allow: Sequence[str] | None = None,
    load_spec: str | None = None,
    run: Any = None,
    trust_pickle: bool = False,
    trust_remote_code: bool = False,
) -> Any:
    """Load `spec` (or `load_spec`, e.g. a config path made absolute, while reporting
    `spec`) and check it: a ModelResult. A load or usage error becomes its `error`, not an
    exception, so that a caller checking many models can go on; bugs still raise."""
    from paraminspect.checks.engine import StaticContext, run_static_checks
    from paraminspect.checks.model_result import ModelResult
    from paraminspect.errors import ParamInspectError
    from paraminspect.loaders.dispatch import load
    from paraminspect.tensors.walk import build_inventory
    from paraminspect.tensors.wrappers import unwrap

    try:
        loaded = load(load_spec or spec, kwargs, device, trust_pickle=trust_pickle, trust_remote_code=trust_remote_code)
    except ParamInspectError as exc:
        return ModelResult(spec=spec, error=str(exc))
    if loaded.module is None:  # a checkpoint's tensors carry no registration to lint
        return ModelResult(
            spec=spec,
            error=f"{spec} is a checkpoint: it stores tensors, not modules; list them with `paraminspect show {spec}`",
        )
    module, wrap_notes = unwrap(loaded.module)
    ctx = StaticContext(build_inventory(module), model=module, spec=spec, build_device=loaded.build_device)
    suppressed: list[Any] = []
    findings = run_static_checks(ctx, select=select, ignore=ignore, allow=allow, suppressed=suppressed)
    run_notes: list[str] = []
    if run is not None and ctx.inventory.uninitialised:  # torch itself cannot walk this model (PI014)
        run_notes.append("--run skipped: a module never called nn.Module.__init__() (PI014), so torch cannot run it")
    elif run is not None:  # `check --run`: forward.examples.RunOptions -> PI1xx findings
        from paraminspect.forward.check_run import check_run

        def rebuild() -> Any:  # a fresh CPU copy when the model cannot run on meta
            rebuilt = load(
                load_spec or spec, kwargs, "cpu", trust_pickle=trust_pickle, trust_remote_code=trust_remote_code
            )
            return unwrap(rebuilt.module)[0]

        try:
            found, run_notes = check_run(
                module,
                run,
                spec=spec,
                rebuild=rebuild,
                select=select,
                ignore=ignore,
                allow=allow,
                suppressed=suppressed,
            )
        except ParamInspectError as exc:
            notes = tuple(loaded.notes) + tuple(wrap_notes)
            return ModelResult(spec=spec, resolved=loaded.resolved, error=str(exc), notes=notes)
        findings = [*findings, *found]
    return ModelResult(
        spec=spec,
        resolved=loaded.resolved,
        findings=tuple(findings),
        notes=tuple(loaded.notes) + tuple(wrap_notes) + ctx.inventory.notes + tuple(run_notes),
        build_device=loaded.build_device,
        suppressed=len(suppressed),
    )


def check_in_child(spec: str, **options: Any) -> Any:
    """check_model as a runner task. The collector stays paused until the model is dropped:
    the build pauses it, and a pass between the build and the end of the checks would rescan
    every object of the model (all young), ~4% of a timm model's check in a sweep."""
    from paraminspect.collector import collector_paused

    with collector_paused():
        return check_model(spec, **options)


# --- many models -----------------------------------------------------------------------


def result_of(outcome: Any) -> Any:
    """A runner Outcome as a ModelResult: the child's own result, or a failed one saying how
    the child ended (its output and traceback kept for the CLI to show)."""
    from paraminspect.checks.model_result import ModelResult
    from paraminspect.commands.outcomes import failure_line

    result = outcome.value if outcome.ok else ModelResult(spec=outcome.label, error=failure_line(outcome))
    return dataclasses.replace(result, output=outcome.output, traceback=outcome.traceback)


def check_many(
    targets: Sequence[Any],
    jobs: int = 1,
    timeout: float | None = None,
    preload: Sequence[str] = (),
    on_result: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Check every CheckTarget in a child process (a process of its own, or a worker shared
    with other library models), up to `jobs` at a time; ModelResults in the order of
    `targets`. A model that raises, ends its process (os._exit, a segfault) or runs past the
    timeout becomes a failed ModelResult and the run goes on; Ctrl-C ends the run."""
    from paraminspect.commands.outcomes import run_in_children
    from paraminspect.forms import parse_spec
    from paraminspect.runner.task import DEFAULT_TIMEOUT, Task

    def collect(outcome: Any) -> None:
        result = result_of(outcome)  # raises KeyboardInterrupt at once for an interrupted model
        if on_result is not None:
            on_result(result)

    def task(target: Any) -> Task:
        # a forward pass (--run) starts threads and fills real memory: a process per model
        reuse = target.options.get("run") is None and parse_spec(target.spec).shared_worker
        return Task(CHECK_TARGET, {"spec": target.spec, **target.options}, label=target.spec, reuse=reuse)

    tasks = [task(t) for t in targets]
    outcomes = run_in_children(tasks, jobs, DEFAULT_TIMEOUT if timeout is None else timeout, preload, collect)
    return [result_of(o) for o in outcomes]


# --- the command -----------------------------------------------------------------------


def run_check(options: CheckOptions, invocation: Any) -> int:
    """`check`: the result cache (never with --run or --fix), else the plan, the models'
    child processes, --fix/--diff, and the report."""
    from paraminspect.commands.cached import maybe_cached

    use_cache = not (options.no_cache or options.run or options.fix or options.diff)
    return maybe_cached(
        list(options.models), use_cache, options.output_file, invocation, lambda: _check(options, invocation)
    )


def _check(options: CheckOptions, invocation: Any) -> int:
    import sys

    from paraminspect.commands.arguments import refuse_overwriting
    from paraminspect.commands.check_plan import plan_check
    from paraminspect.commands.output import model_output, notify
    from paraminspect.forms import preload_for
    from paraminspect.render.progress import progress_bar
    from paraminspect.runner import resolve_jobs, resolve_timeout

    plan = plan_check(
        options.models,
        kwargs=options.kwargs,
        device=options.device,
        select=options.select,
        ignore=options.ignore,
        fail_on=options.fail_on,
        run=options.run,
        trust_pickle=options.trust_pickle,
        trust_remote_code=options.trust_remote_code,
        timeout=resolve_timeout(options.timeout) if options.timeout is not None else None,
    )
    for message in plan.notes:
        notify(message)
    targets, path_run = list(plan.targets), None
    if plan.paths:  # `check src/`: the module classes defined there, found in a child process
        from paraminspect.discover.paths import discover_paths

        path_run = discover_paths(plan, lambda kwargs: _discover_in_child(kwargs, plan.timeout))
        model_output(path_run.output)
        targets += path_run.targets
        for message in path_run.notes():
            notify(message)
    specs = [target.spec for target in targets]
    refuse_overwriting(options.output_file, [t.options.get("load_spec") or t.spec for t in targets])
    workers, note = resolve_jobs(options.jobs, len(specs), plan.registry_run, options.oversubscribe)
    if note:
        notify(note)

    def run_checks() -> list[Any]:
        """Each model in a child process of its own (so a re-check after --fix imports the
        files as they are now)."""
        if not targets:
            return []
        with progress_bar(len(targets), sys.stderr) as advance:
            return check_many(targets, workers, plan.timeout, preload=preload_for(specs), on_result=advance)

    results = run_checks()
    for result in results:
        label = None if len(specs) == 1 else result.spec
        model_output(result.output, label)
        if invocation.debug and result.traceback:
            sys.stderr.write(result.traceback)
        for message in result.notes:
            notify(message if label is None else f"{label}: {message}")
    if options.fix or options.diff:
        from paraminspect.commands.check_fixes import fix_and_recheck, show_diff

        persistent = options.fix_persistent or plan.fix_persistent
        if options.diff:
            return show_diff(results, options.fix_codes, persistent, options.output_file)
        results = fix_and_recheck(results, options.fix_codes, persistent, run_checks)
    if path_run is None:
        return report(results, options.output_format, options.output_file, plan.fail_on, registry=plan.registry_run)
    results, extra = path_run.report(results, options.strict)
    return report(results, options.output_format, options.output_file, plan.fail_on, registry=True, **extra)


def _discover_in_child(kwargs: dict[str, Any], timeout: float) -> tuple[Any, str]:
    """discover_classes(**kwargs) in a child of the runner's fork server (which imported torch
    once for the class checks that follow): the CLI never imports the user's files."""
    from paraminspect.commands.outcomes import run_in_child, value_of
    from paraminspect.discover.classes import TARGET
    from paraminspect.runner.task import Task

    outcome = run_in_child(Task(TARGET, kwargs, label="finding module classes"), timeout, (), server=True)
    return value_of(outcome), outcome.output


def report(
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
    """Render ModelResults, print load errors on stderr, and pick the exit code. A sweep's
    terminal report lists the failures itself (apart from the findings). Failures of the
    `lenient` specs (classes found by `check PATH`, without --strict) do not make it 2."""
    from paraminspect.checks.rule import at_least
    from paraminspect.commands.output import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, error_line, output_to

    terminal = formats.get(output_format).terminal
    if not results and not skipped and output_format == formats.default(formats.CHECK):
        return EXIT_OK  # `check PATH` found no module class: its note said so
    for result in results:
        if result.error is not None and not (registry and terminal):
            message = result.error if len(results) == 1 else result.error_line()
            error_line(message, "warning" if result.spec in lenient else "error")
    check_report = CheckReport(results, fail_on, registry, skipped, counts_line, noun)
    with output_to(output_file) as out:
        formats.renderer(output_format, formats.CHECK)(out, check_report)
    if any(r.error is not None and r.spec not in lenient for r in results):
        return EXIT_ERROR
    failing = any(at_least(f.severity, fail_on) for r in results for f in r.findings)
    return EXIT_FINDINGS if failing else EXIT_OK
