"""Check one model: load, unwrap, inventory, run the static rules. Plain data in and out (no
printing, picklable results), so that a caller may run it in worker processes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from paraminspect.checks.model import Finding
from paraminspect.errors import ParamInspectError


@dataclass(frozen=True)
class ModelResult:
    """The outcome of checking one MODEL spec: findings, or the one-line error that stopped it."""

    spec: str
    resolved: str | None = None
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()
    build_device: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def error_line(self) -> str:
        """`spec: error`, without repeating the spec when the error already names it."""
        error = self.error or ""
        return error if self.spec in error else f"{self.spec}: {error}"


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
) -> ModelResult:
    """Load `spec` (or `load_spec`, e.g. a config path made absolute, while reporting
    `spec`) and check it. A load or usage error becomes `error`, not an exception, so that a
    caller checking many models can go on; bugs in paraminspect itself still raise."""
    from paraminspect.checks.engine import StaticContext, run_static_checks
    from paraminspect.inventory import build_inventory, unwrap
    from paraminspect.loading import load

    try:
        loaded = load(load_spec or spec, kwargs, device, trust_pickle=trust_pickle)
    except ParamInspectError as exc:
        return ModelResult(spec=spec, error=str(exc))
    if loaded.module is None:  # a checkpoint's tensors carry no registration to lint
        return ModelResult(
            spec=spec,
            error=f"{spec} is a checkpoint: it stores tensors, not modules; list them with `paraminspect show {spec}`",
        )
    module, wrap_notes = unwrap(loaded.module)
    ctx = StaticContext(build_inventory(module), model=module, spec=spec, build_device=loaded.build_device)
    findings = run_static_checks(ctx, select=select, ignore=ignore, allow=allow)
    run_notes: list[str] = []
    if run is not None:  # `check --run`: paraminspect.examples.RunOptions -> PI1xx findings
        from paraminspect.runtime import check_run

        def rebuild() -> Any:  # a fresh CPU copy when the model cannot run on meta
            return unwrap(load(load_spec or spec, kwargs, "cpu", trust_pickle=trust_pickle).module)[0]

        try:
            found, run_notes = check_run(
                module, run, spec=spec, rebuild=rebuild, select=select, ignore=ignore, allow=allow
            )
        except ParamInspectError as exc:
            notes = tuple(loaded.notes) + tuple(wrap_notes)
            return ModelResult(spec=spec, resolved=loaded.resolved, error=str(exc), notes=notes)
        findings = [*findings, *found]
    return ModelResult(
        spec=spec,
        resolved=loaded.resolved,
        findings=tuple(findings),
        notes=tuple(loaded.notes) + tuple(wrap_notes) + tuple(run_notes),
        build_device=loaded.build_device,
    )


@dataclass(frozen=True)
class CheckPlan:
    """What `paraminspect check` will do: the models (globs expanded), their options, and the
    --fail-on threshold, after the command line has overridden [tool.paraminspect]."""

    tasks: tuple[Any, ...]  # paraminspect.registry.Task
    fail_on: str
    registry_run: bool  # globs were given: a registry report, worker processes


def plan_check(
    models: Sequence[str],
    *,
    kwargs: dict[str, Any],
    device: str | None,
    select: Sequence[str] | None,
    ignore: Sequence[str] | None,
    fail_on: str | None,
    run: Any = None,
    trust_pickle: bool = False,
) -> CheckPlan:
    """Merge the command line with the nearest pyproject.toml's [tool.paraminspect]."""
    from paraminspect.checks.engine import parse_codes
    from paraminspect.config import load_config, resolve_model_path
    from paraminspect.errors import UsageError
    from paraminspect.registry import Task, expand_specs, is_glob

    select_codes = parse_codes(select, "--select")
    ignore_codes = parse_codes(ignore, "--ignore")
    config = load_config()
    specs = list(models)
    from_config = not specs
    if from_config:
        if not config.models:
            raise UsageError(
                "no MODEL given and no `models = [...]` in [tool.paraminspect] of a pyproject.toml: "
                "pass models, e.g. `paraminspect check mypkg.models:build`"
            )
        specs = list(config.models)
    if select_codes is None:  # command-line flags override the file
        select_codes = list(config.select) if config.select is not None else None
    if ignore_codes is None:
        ignore_codes = list(config.ignore or ())
    registry_run = any(is_glob(spec) for spec in specs)
    if registry_run:
        specs = expand_specs(specs)
    tasks = tuple(
        Task(
            spec,
            {
                "kwargs": kwargs,
                "device": device,
                "select": select_codes,
                "ignore": [*ignore_codes, *config.ignores_for(spec)],
                "allow": config.allow,
                "load_spec": resolve_model_path(spec, config.root) if from_config else None,
                "run": run,
                "trust_pickle": trust_pickle,
            },
        )
        for spec in specs
    )
    return CheckPlan(tasks, fail_on or config.fail_on or "warning", registry_run)
