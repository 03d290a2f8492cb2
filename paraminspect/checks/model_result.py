"""What checking one MODEL gives: its findings, or the one-line error that stopped it. Plain,
picklable and torch-free: built in a model's child process, rendered in the CLI's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paraminspect.checks.rule import Finding


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
    # `check PATH`: the project classes instantiated in the built model, (defining file,
    # qualname, module paths of the instances), so that a class built as a part is credited.
    parts: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    # `check PATH`: findings the static pass read from a class that was not built (no build,
    # no error: the class is the model, `spec` its MODEL spec).
    from_source: bool = False
    # What the model's code wrote to stdout/stderr in its child process, and the child's
    # traceback of an error (shown under --debug).
    output: str = field(default="", compare=False, repr=False)
    traceback: str = field(default="", compare=False, repr=False)
    # `check --format html`: the model's inventory (tensors.records.Inventory, without its
    # module classes), to draw it; None otherwise.
    inventory: Any = field(default=None, compare=False, repr=False)
    # Seconds the check took in its child process (`--store-durations`; 0.0 when unknown).
    seconds: float = field(default=0.0, compare=False, repr=False)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def error_line(self) -> str:
        """`spec: error`, without repeating the spec when the error already names it."""
        error = self.error or ""
        return error if self.spec in error else f"{self.spec}: {error}"
