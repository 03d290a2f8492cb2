"""Plain data for the rule catalog: importable without torch (`rules`, `explain`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)
_RANK = {INFO: 0, WARNING: 1, ERROR: 2}


def at_least(severity: str, threshold: str) -> bool:
    """True when `severity` is at or above `threshold` (error > warning > info)."""
    return _RANK[severity] >= _RANK[threshold]


@dataclass(frozen=True)
class Finding:
    """One offending attribute (module path + attribute), with the tensor names it covers."""

    code: str
    severity: str
    module: str  # dotted path of the owning module, "" for the root
    attribute: str
    names: tuple[str, ...]
    message: str
    file: str | None = None
    line: int | None = None
    model: str = ""  # the MODEL spec as given on the command line ("" through the Python API)


@dataclass(frozen=True)
class Rule:
    """A catalog entry. `check` gets a CheckContext and returns findings; it is None for
    rules that another stage reports (the PI1xx runtime rules)."""

    code: str
    name: str
    severity: str
    summary: str
    explanation: str
    check: Callable[[Any], list[Finding]] | None = field(default=None, compare=False, repr=False)
