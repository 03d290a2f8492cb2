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
    # The automatic fix the check chose for this finding (a kind of paraminspect.fixes:
    # "parameter", "buffer", "parameter-list", ...), or "" with `no_fix` saying why not.
    fix: str = ""
    no_fix: str = ""


@dataclass(frozen=True)
class FixExample:
    """A before/after pair for a rule's fix: whole module sources, each defining a class
    `Model` that builds without arguments. Tests are generated from them (the rule finds
    `before`, the fix turns it into `after`, which checks clean) and `explain` prints them."""

    before: str
    after: str


@dataclass(frozen=True)
class Fix:
    """What `check --fix` does for a rule. `changes_state`: the fix changes what
    state_dict() or parameters() hold (checkpoints and optimizers see the difference)."""

    summary: str
    changes_state: bool
    examples: tuple[FixExample, ...] = ()


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
    fix: Fix | None = field(default=None, compare=False, repr=False)
