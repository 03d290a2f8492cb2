"""What `paraminspect check` will do: the command line merged with [tool.paraminspect], library
globs expanded (in the fork server, which then serves the sweep), paths set apart for
discovery. Plain data out."""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from paraminspect.checks.finalise import parse_codes
from paraminspect.checks.runtime import runtime_enabled
from paraminspect.config import Config, load_config, resolve_model_path
from paraminspect.errors import UsageError
from paraminspect.forms import TIMM_PREFIX, parse_spec, preload_for
from paraminspect.runner.task import DEFAULT_TIMEOUT
from paraminspect.runner.task import Task as RunnerTask

EXPAND_TARGET = "paraminspect.commands.check_plan:expand_specs"


@dataclass
class CheckTarget:
    """One model to check: its spec and the keyword arguments of commands.check.check_model."""

    spec: str
    options: dict[str, Any]


@dataclass(frozen=True)
class CheckPlan:
    """What `paraminspect check` will do: the models (globs expanded), their options, and the
    --fail-on threshold, after the command line has overridden [tool.paraminspect]."""

    targets: tuple[CheckTarget, ...]
    fail_on: str
    registry_run: bool  # globs (or paths) were given: a sweep report, worker processes
    fix_persistent: bool = False  # [tool.paraminspect] fix-persistent
    timeout: float = DEFAULT_TIMEOUT  # seconds per model: --timeout, else [tool.paraminspect] timeout
    paths: tuple[str, ...] = ()  # folders and .py files whose module classes are checked (`check PATH`)
    config: Config = field(default_factory=Config)
    options: dict[str, Any] | None = None  # check_model options shared by every target
    notes: tuple[str, ...] = ()  # for stderr: what the merged options mean (a --run that cannot run)

    def target(self, spec: str, kwargs: dict[str, Any], load_spec: str | None = None) -> CheckTarget:
        """The check target of one more model (a class found under `paths`)."""
        options = dict(self.options or {})
        options["ignore"] = [*options.get("ignore", ()), *self.config.ignores_for(spec)]
        return CheckTarget(spec, {**options, "kwargs": kwargs, "load_spec": load_spec})


def expand_specs(specs: Sequence[str]) -> list[str]:
    """Specs with library globs (`timm:vit_*`, a bare `vit_*`, `transformers:*ForCausalLM`)
    replaced by the matching specs (the form's `expands` function), duplicates dropped. A
    pattern that matches nothing is a UsageError."""
    out: dict[str, None] = {}
    for spec in specs:
        parsed = parse_spec(spec)
        expanded = None
        if parsed.is_glob and parsed.form.expands:
            module_name, _, function = parsed.form.expands.partition(":")
            expanded = getattr(importlib.import_module(module_name), function)(parsed.text)
        if expanded is None:
            out.setdefault(spec, None)
        else:
            out.update(dict.fromkeys(expanded))
    return list(out)


def expand_in_server(specs: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """expand_specs run in a child of the runner's fork server: the server imports timm (or
    transformers) once, for this expansion and for every model of the sweep after it, and
    the CLI process imports neither."""
    from paraminspect.commands.outcomes import run_in_child, value_of

    task = RunnerTask(EXPAND_TARGET, {"specs": list(specs)}, label="expanding the globs")
    return list(value_of(run_in_child(task, timeout, preload_for(specs), server=True)))


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
    trust_remote_code: bool = False,
    timeout: float | None = None,
) -> CheckPlan:
    """Merge the command line with the nearest pyproject.toml's [tool.paraminspect]."""
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
    for spec in specs:
        parsed = parse_spec(spec)
        if parsed.is_glob and not parsed.form.library_sweep:
            raise UsageError(
                f"{spec!r}: globs match timm names ({TIMM_PREFIX}vit_*) and transformers classes only; "
                "for files, let the shell expand them (sample_models/*.py) or list the factories"
            )

    def in_project(spec: str) -> str:  # entries of `models` are relative to the pyproject.toml
        if not from_config or config.root is None or os.path.isabs(spec):
            return spec
        return str(config.root / spec)

    paths = tuple(spec for spec in specs if parse_spec(in_project(spec.strip())).form.name == "source-path")
    if paths:
        if kwargs:
            raise UsageError(
                "-a/--arg gives arguments to one model, not to the classes found under a path: "
                "use [tool.paraminspect.args] in pyproject.toml"
            )
        specs = [spec for spec in specs if spec not in paths]
        paths = tuple(in_project(p.strip()) for p in paths)
    globs = any(parse_spec(spec).is_glob for spec in specs)
    registry_run = bool(paths) or globs
    if globs:
        specs = expand_in_server(specs)
    options = {
        "device": device,
        "select": select_codes,
        "ignore": list(ignore_codes),
        "allow": config.allow,
        "run": run,
        "trust_pickle": trust_pickle,
        "trust_remote_code": trust_remote_code,
    }
    notes: tuple[str, ...] = ()
    if run is not None and not runtime_enabled(select_codes, ignore_codes):
        from_cli = select is not None or ignore is not None
        where = "--select/--ignore" if from_cli else "select/ignore in [tool.paraminspect]"
        notes = (f"--run: the forward pass is skipped: no PI1xx rule is selected (by {where})",)
    plan = CheckPlan(
        (),
        fail_on or config.fail_on or "warning",
        registry_run,
        fix_persistent=config.fix_persistent,
        timeout=timeout or config.timeout or DEFAULT_TIMEOUT,
        paths=paths,
        config=config,
        options=options,
        notes=notes,
    )
    targets = tuple(
        plan.target(
            spec,
            {**config.args_for(spec), **kwargs},
            resolve_model_path(spec, config.root) if from_config else None,
        )
        for spec in specs
    )
    return dataclasses.replace(plan, targets=targets)
