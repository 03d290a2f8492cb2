"""What `paraminspect check` will do: the command line merged with [tool.paraminspect], globs
expanded into tasks. Above registry.py in the pipeline; plain data out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from paraminspect.checks.engine import parse_codes
from paraminspect.config import load_config, resolve_model_path
from paraminspect.errors import UsageError
from paraminspect.registry import Task, expand_in_server, is_glob, timm_pattern


@dataclass(frozen=True)
class CheckPlan:
    """What `paraminspect check` will do: the models (globs expanded), their options, and the
    --fail-on threshold, after the command line has overridden [tool.paraminspect]."""

    tasks: tuple[Any, ...]  # paraminspect.registry.Task
    fail_on: str
    registry_run: bool  # globs were given: a registry report, worker processes
    fix_persistent: bool = False  # [tool.paraminspect] fix-persistent
    timeout: float = 120.0  # seconds per model: --timeout, else [tool.paraminspect] timeout


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
        if is_glob(spec) and timm_pattern(spec.strip()) is None and not spec.strip().startswith("transformers:"):
            raise UsageError(
                f"{spec!r}: globs match timm names (timm:vit_*) and transformers classes only; "
                "for files, let the shell expand them (sample_models/*.py) or list the factories"
            )
    registry_run = any(is_glob(spec) for spec in specs)
    if registry_run:
        specs = expand_in_server(specs)
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
                "trust_remote_code": trust_remote_code,
            },
        )
        for spec in specs
    )
    from paraminspect.runner import DEFAULT_TIMEOUT

    return CheckPlan(
        tasks,
        fail_on or config.fail_on or "warning",
        registry_run,
        config.fix_persistent,
        timeout or config.timeout or DEFAULT_TIMEOUT,
    )
