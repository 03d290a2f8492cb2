"""Check one model: load, unwrap, inventory, run the static rules. Plain data in and out (no
printing, picklable results), so that a caller may run it in worker processes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    suppressed: int = 0  # findings left out by a noqa comment on their line
    # What the model's code wrote to stdout/stderr in its child process, and the child's
    # traceback of an error (shown under --debug).
    output: str = field(default="", compare=False, repr=False)
    traceback: str = field(default="", compare=False, repr=False)

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
    trust_remote_code: bool = False,
) -> ModelResult:
    """Load `spec` (or `load_spec`, e.g. a config path made absolute, while reporting
    `spec`) and check it. A load or usage error becomes `error`, not an exception, so that a
    caller checking many models can go on; bugs in paraminspect itself still raise."""
    from paraminspect.checks.engine import StaticContext, run_static_checks
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
    if run is not None:  # `check --run`: paraminspect.examples.RunOptions -> PI1xx findings
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
