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
LIBRARIES = "paraminspect.commands.libraries"  # the fork server's import of a project's libraries


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
    static: bool = False  # check --static: the static pass only (no torch, nothing built)
    force_exclude: bool = False  # check PATH: the skip rules apply to the paths named too
    show_settings: bool = False
    shard: Any = None  # --shard K/N: a commands.shard.Shard
    durations: Optional[Path] = None  # --durations FILE: split the shards by recorded durations
    store_durations: bool = False  # write the measured durations to --durations FILE
    changed_since: Optional[str] = None  # check PATH: only classes in files changed since this git ref


@dataclass(frozen=True)
class CheckReport:
    """What a check renderer gets (see paraminspect.formats)."""

    results: Sequence[Any]  # checks.model_result.ModelResult
    fail_on: str
    registry: bool = False  # a sweep or `check PATH`: the sweep report
    skipped: Sequence[Any] = ()  # discover.found.SkippedClass
    counts_line: Optional[str] = None
    noun: str = "models"
    # `check PATH`: {classes, built, as_part, static_only, not_checked} and each class's
    # discover.coverage.ClassCoverage (None and () for other runs)
    coverage: Optional[dict[str, int]] = None
    classes: Sequence[Any] = ()
    fix_command: str = ""  # `paraminspect check --fix MODEL...` for this run ("" unknown)
    shard: Optional[dict[str, Any]] = None  # --shard: the JSON's `shard` block (commands.shard)


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
    keep_inventory: bool = False,
    arguments: Any = None,
    parts: bool = False,
) -> Any:
    """Load `spec` (or `load_spec`, e.g. a config path made absolute, while reporting
    `spec`) and check it: a ModelResult. A load or usage error becomes its `error`, not an
    exception, so that a caller checking many models can go on; bugs still raise.
    `check PATH`: `arguments` (a static.args.ArgSource) builds the class from the arguments
    found in the project; `parts` lists the project classes instantiated in the model.
    `keep_inventory`: the result carries the model's inventory (--format html draws it)."""
    from paraminspect.checks.engine import StaticContext, run_static_checks
    from paraminspect.checks.model_result import ModelResult
    from paraminspect.errors import ParamInspectError
    from paraminspect.loaders.dispatch import load
    from paraminspect.tensors.walk import build_inventory
    from paraminspect.tensors.wrappers import unwrap

    def build(on: str | None) -> Any:
        if arguments is not None:
            from paraminspect.loaders.snippet import load_from_arguments

            return load_from_arguments(spec, arguments, on)
        return load(load_spec or spec, kwargs, on, trust_pickle=trust_pickle, trust_remote_code=trust_remote_code)

    try:
        loaded = build(device)
    except ParamInspectError as exc:
        return ModelResult(spec=spec, error=str(exc))
    if loaded.module is None:  # a checkpoint's tensors carry no registration to lint
        return ModelResult(
            spec=spec,
            error=f"{spec} is a checkpoint: it stores tensors, not modules; list them with `paraminspect show {spec}`",
        )
    module, wrap_notes = unwrap(loaded.module)
    ctx = StaticContext(
        build_inventory(module),
        model=module,
        spec=spec,
        build_device=loaded.build_device,
        meta_failure=loaded.meta_failure,
    )
    suppressed: list[Any] = []
    findings = run_static_checks(ctx, select=select, ignore=ignore, allow=allow, suppressed=suppressed)
    run_notes: list[str] = []
    if run is not None and ctx.inventory.uninitialised:  # torch itself cannot walk this model (PI014)
        run_notes.append("--run skipped: a module never called nn.Module.__init__() (PI014), so torch cannot run it")
    elif run is not None:  # `check --run`: forward.examples.RunOptions -> PI1xx findings
        from paraminspect.forward.check_run import check_run

        def rebuild() -> Any:  # a fresh CPU copy when the model cannot run on meta
            return unwrap(build("cpu").module)[0]

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
        notes=tuple(loaded.notes) + tuple(wrap_notes) + ctx.inventory.notes + tuple(ctx.notes) + tuple(run_notes),
        build_device=loaded.build_device,
        suppressed=len(suppressed),
        # without its classes (unpickling them would import user code in the CLI's process)
        inventory=dataclasses.replace(ctx.inventory, module_classes={}, references=()) if keep_inventory else None,
        parts=project_parts(module) if parts else (),
    )


def project_parts(model: Any) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(defining file, qualname, module paths) of each class instantiated in `model` (the
    root's own class too, at ""), torch's own left out. The file is that of a function the
    class body defines (a class whose `__module__` was reassigned is still found in its
    file), else its module's file."""
    import sys

    found: dict[type, list[str]] = {}
    for path, sub in model.named_modules(remove_duplicate=False):
        cls = type(sub)
        if cls.__module__.startswith("torch."):
            continue
        found.setdefault(cls, []).append(path)
    out = []
    for cls, paths in found.items():
        file = _class_file(cls) or getattr(sys.modules.get(cls.__module__), "__file__", None)
        if file:
            out.append((file, cls.__qualname__, tuple(paths)))
    return tuple(out)


def _class_file(cls: type) -> str | None:
    for value in vars(cls).values():
        function = getattr(value, "__func__", value)  # staticmethod, classmethod
        code = getattr(function, "__code__", None)
        if code is not None and getattr(function, "__qualname__", "").startswith(cls.__qualname__ + "."):
            return str(code.co_filename)
    return None


def check_in_child(spec: str, **options: Any) -> Any:
    """check_model as a runner task. The collector stays paused until the model is dropped:
    the build pauses it, and a pass between the build and the end of the checks would rescan
    every object of the model (all young), ~4% of a timm model's check in a sweep."""
    import time

    from paraminspect.collector import collector_paused

    start = time.perf_counter()
    with collector_paused():
        result = check_model(spec, **options)
    return dataclasses.replace(result, seconds=time.perf_counter() - start)


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
    keep_inventory: bool = False,
) -> list[Any]:
    """Check every CheckTarget in a child process (a process of its own, or a worker shared
    with other library models), up to `jobs` at a time; ModelResults in the order of
    `targets`. A model that raises, ends its process (os._exit, a segfault) or runs past the
    timeout becomes a failed ModelResult and the run goes on; Ctrl-C ends the run."""
    from paraminspect.commands.outcomes import run_in_children
    from paraminspect.forms import parse_spec
    from paraminspect.runner.task import DEFAULT_TIMEOUT, TIMEOUT, Task

    def collect(outcome: Any) -> None:
        result = result_of(outcome)  # raises KeyboardInterrupt at once for an interrupted model
        if on_result is not None:
            on_result(result)

    def task(target: Any) -> Task:
        # a forward pass (--run) starts threads and fills real memory: a process per model
        reuse = target.options.get("run") is None and parse_spec(target.spec).shared_worker
        options = {**target.options, "keep_inventory": True} if keep_inventory else target.options
        return Task(CHECK_TARGET, {"spec": target.spec, **options}, label=target.spec, reuse=reuse)

    tasks = [task(t) for t in targets]
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    outcomes = run_in_children(tasks, jobs, limit, preload, collect)
    # a model killed at the timeout took (at least) that long: what --store-durations records
    return [dataclasses.replace(result_of(o), seconds=limit) if o.status == TIMEOUT else result_of(o) for o in outcomes]


# --- the command -----------------------------------------------------------------------


def run_check(options: CheckOptions, invocation: Any) -> int:
    """`check`: the result cache (never with --run or --fix), else the plan, the models'
    child processes, --fix/--diff, and the report."""
    from paraminspect.commands.cached import maybe_cached

    if options.show_settings:
        return show_settings()
    _refuse_combinations(options)
    # --changed-since reads git's state and --durations a file the cache key does not cover
    fresh = options.changed_since is not None or options.durations is not None
    use_cache = not (options.no_cache or options.run or options.fix or options.diff or fresh)
    return maybe_cached(
        list(options.models), use_cache, options.output_file, invocation, lambda: _check(options, invocation)
    )


def _refuse_combinations(options: CheckOptions) -> None:
    from paraminspect.errors import UsageError

    if options.store_durations and options.durations is None:
        raise UsageError("--store-durations writes the file named by --durations FILE: give it")
    if options.durations is not None and options.shard is None and not options.store_durations:
        raise UsageError("--durations FILE splits a --shard K/N run (or, with --store-durations, records one)")
    if options.shard is not None and (options.fix or options.diff):
        raise UsageError("--shard cannot be used with --fix or --diff: fix in one unsplit run")


def show_settings() -> int:
    """`check --show-settings`: which configuration file applies here, and what it sets."""
    import sys

    from paraminspect.cache import cache_folder, secret_path
    from paraminspect.config import project_root, settings_lines
    from paraminspect.render.safe import printable

    lines = settings_lines()
    lines.append(f"result cache: {cache_folder(project_root())} (its key: {secret_path()})")
    sys.stdout.write("".join(printable(line) + "\n" for line in lines))
    return 0


def _check(options: CheckOptions, invocation: Any) -> int:
    import sys

    from paraminspect.commands.arguments import refuse_overwriting
    from paraminspect.commands.check_plan import plan_check
    from paraminspect.commands.output import model_output, notify
    from paraminspect.errors import UsageError
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
    if options.static and plan.targets:
        raise UsageError(
            f"--static reads folders and .py files without building anything; {plan.targets[0].spec} is a model "
            "to build: check it without --static"
        )
    if options.changed_since is not None and not plan.paths:
        raise UsageError("--changed-since selects the module classes of a path: `check src/ --changed-since REF`")
    durations = None
    if options.durations is not None:  # read (or refused) before anything is built
        from paraminspect.commands.shard import read_durations

        durations = read_durations(options.durations)
    others, path_run = list(plan.targets), None
    if plan.paths:  # `check src/`: the static pass, then the classes that build, imported in a child process
        from paraminspect.cache import cache_folder
        from paraminspect.discover.paths import discover_paths

        path_run = discover_paths(
            plan,
            lambda batches, libraries: _discover_in_children(batches, libraries, plan.timeout, options.jobs),
            static_only=options.static,
            force_exclude=options.force_exclude,
            cache=None if options.no_cache else cache_folder(plan.config.root),
            changed_since=options.changed_since,
        )
        model_output(path_run.output)
        for message in path_run.notes():
            notify(message)
    if path_run is not None:  # a model named beside the path: the project classes it builds are checked there
        for target in others:
            target.options["parts"] = True
    every = others + list(path_run.targets if path_run is not None else ())
    positions = list(range(len(every)))
    if options.shard is not None:
        from paraminspect.commands.shard import assign

        shards = assign([t.spec for t in every], options.shard.count, durations)
        positions = [i for i, k in enumerate(shards) if k == options.shard.index]
        notify(f"shard {options.shard}: {len(positions)} of {len(every)} models")
    targets = [every[i] for i in positions]
    own_others = sum(1 for i in positions if i < len(others))
    specs = [target.spec for target in targets]
    from paraminspect.commands.outcomes import fetch_hub_configs

    fetch_hub_configs([t.options.get("load_spec") or t.spec for t in targets])  # here: model processes have no network
    refuse_overwriting(options.output_file, [t.options.get("load_spec") or t.spec for t in targets])
    workers, note = resolve_jobs(options.jobs, len(specs), plan.registry_run, options.oversubscribe)
    if note:
        notify(note)
    path_reports: list[Any] = []
    raw: list[Any] = []  # the models' own results, before a path run's join (--shard, --store-durations)
    facts = None
    if options.shard is not None and path_run is not None:
        from paraminspect.discover.coverage import path_facts

        facts = path_facts(path_run, plan)

    def run_checks() -> list[Any]:
        """Each model in a child process of its own (so a re-check after --fix imports the
        files as they are now); in a path run, joined with the static findings (read again
        on a re-check)."""
        results = []
        if targets:
            with progress_bar(len(targets), sys.stderr) as advance:
                results = check_many(
                    targets,
                    workers,
                    plan.timeout,
                    preload=preload_for(specs),
                    on_result=advance,
                    keep_inventory=options.output_format == "html",  # the report draws each model
                )
        raw[:] = results
        if path_run is None:
            return results
        from paraminspect.discover.coverage import build_report, shard_report
        from paraminspect.discover.paths import rescan

        if facts is not None:
            owned = {t.spec for t in targets}
            first = options.shard.index == 1
            path_reports.append(shard_report(facts, results[own_others:], options.strict, owned, first))
            return results[:own_others] + path_reports[-1].results
        static = rescan(path_run) if path_reports else None
        # the models named beside the path come first, with the classes they build credited to them
        path_reports.append(build_report(path_run, results, plan, options.strict, static))
        return path_reports[-1].results

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
    if options.store_durations and options.durations is not None:
        store_durations(options.durations, raw, durations)
    from paraminspect.commands.check_fixes import fix_command

    command = fix_command(options.models, options.kwargs)
    block = None
    if options.shard is not None:
        from paraminspect.commands.shard import shard_block

        settings = {
            "fail_on": plan.fail_on,
            "registry": path_run is not None or plan.registry_run,
            "strict": options.strict,
            "others": len(others),
            "fix_command": command,  # what merge's text report prints for the [*] findings
        }
        models = [t.spec for t in every]
        block = shard_block(options.shard, models, list(zip(positions, raw, strict=True)), settings, facts)
    if path_run is None:
        return report(
            results,
            options.output_format,
            options.output_file,
            plan.fail_on,
            registry=plan.registry_run,
            shard=block,
            fix_command=command,
        )
    path_report = path_reports[-1]
    code = report_path_run(
        results, path_report, options.output_format, options.output_file, plan.fail_on, shard=block, fix_command=command
    )
    if path_report.unchecked is not None:
        from paraminspect.commands.output import EXIT_ERROR, error_line

        error_line(path_report.unchecked)
        return EXIT_ERROR
    return code


def store_durations(path: Path, results: Sequence[Any], old: Optional[dict[str, float]] = None) -> None:
    """--store-durations: the seconds each model's check took, merged into the file's entries
    (`old`: as read before the run; None: read now)."""
    from paraminspect.commands.output import write_file
    from paraminspect.commands.shard import durations_text, read_durations

    measured = {r.spec: r.seconds for r in results if r.seconds > 0}
    write_file(path, durations_text(read_durations(path) if old is None else old, measured))


def _discover_in_children(
    batches: list[dict[str, Any]], libraries: Sequence[str], timeout: float, jobs: int | None
) -> list[tuple[Any, str, str]]:
    """discover_classes(**batch) for each batch, in children of the runner's fork server
    (which imports torch and the project's `libraries` once, for the class checks that
    follow; the CLI never imports the user's files), side by side: (Discovery or None, the
    files' output, why it failed)."""
    import os

    from paraminspect.commands.outcomes import failure_line, run_in_children
    from paraminspect.commands.startup import LIBRARIES_ENV
    from paraminspect.discover.classes import TARGET
    from paraminspect.runner import resolve_jobs
    from paraminspect.runner.task import Task

    def label(batch: dict[str, Any]) -> str:
        files = batch["files"]
        return f"importing {files[0]['shown']}" if len(files) == 1 else "finding module classes"

    tasks = [Task(TARGET, batch, label=label(batch)) for batch in batches]
    workers = resolve_jobs(jobs, len(tasks), True, False)[0]
    saved = os.environ.get(LIBRARIES_ENV)
    os.environ[LIBRARIES_ENV] = ",".join(libraries)  # read by the fork server as it starts
    try:
        outcomes = run_in_children(tasks, workers, timeout, (LIBRARIES,), server=True)
    finally:
        if saved is None:
            os.environ.pop(LIBRARIES_ENV, None)
        else:
            os.environ[LIBRARIES_ENV] = saved
    return [(o.value if o.ok else None, o.output, "" if o.ok else failure_line(o)) for o in outcomes]


def report_path_run(
    results: list[Any], path_report: Any, output_format: str, output_file: Optional[Path], fail_on: str, **extra: Any
) -> int:
    """`report` of a `check PATH` run (discover.coverage.PathReport): its skipped classes,
    counts, coverage and classes; the unsplit run and `merge` give the same report."""
    return report(
        results,
        output_format,
        output_file,
        fail_on,
        registry=True,
        skipped=path_report.skipped,
        counts_line=path_report.counts_line,
        lenient=path_report.lenient,
        noun="module classes",
        coverage=path_report.coverage,
        classes=path_report.classes,
        **extra,
    )


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
    coverage: Optional[dict[str, int]] = None,
    classes: Sequence[Any] = (),
    shard: Optional[dict[str, Any]] = None,
    command: str = formats.CHECK,
    fix_command: str = "",
) -> int:
    """Render ModelResults, print load errors on stderr, and pick the exit code. A sweep's
    terminal report lists the failures itself (apart from the findings). Failures of the
    `lenient` specs (classes found by `check PATH`, without --strict) do not make it 2."""
    from paraminspect.checks.rule import at_least
    from paraminspect.commands.output import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, error_line, output_to

    terminal = formats.get(output_format).terminal
    if not results and not skipped and not classes and output_format == formats.default(formats.CHECK):
        return EXIT_OK  # `check PATH` found no module class: its note said so
    for result in results:
        if result.error is not None and not (registry and terminal):
            message = result.error if len(results) == 1 else result.error_line()
            error_line(message, "warning" if result.spec in lenient else "error")
    check_report = CheckReport(
        results, fail_on, registry, skipped, counts_line, noun, coverage, classes, fix_command=fix_command, shard=shard
    )
    with output_to(output_file) as out:
        formats.renderer(output_format, command)(out, check_report)
    if any(r.error is not None and r.spec not in lenient for r in results):
        return EXIT_ERROR
    failing = any(at_least(f.severity, fail_on) for r in results for f in r.findings)
    return EXIT_FINDINGS if failing else EXIT_OK
