"""The rule catalog. A rule is one unit (checks.rule.Rule): code, name, severity, summary,
explanation, its check function, its examples, and its fix (a Fix naming the FixKinds the
check chooses from). Each family module defines `RULES: list[Rule]` and must not import
torch at module level, so that `paraminspect rules` and `explain` stay instant.

Families (FAMILIES): unregistered.py (PI001-PI004 and PI014, fixes in unregistered_fixes.py),
registered.py (PI005-PI010), module_config.py (PI011), meta_init.py (PI012-PI013: the
meta-device init path; PI013's probe in empty_init.py), runtime.py (PI1xx, reported by
`check --run`); the longer examples are in registration_examples.py, meta_init_examples.py and
runtime_examples.py.
engine.py runs the static rules on a built model; finalise.py is the one finaliser every
pass's findings go through (select/ignore, allow, noqa, severity, order); model_result.py
is what checking one model gives.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from paraminspect.checks.rule import ERROR, INFO, SEVERITIES, WARNING, Finding, Rule, at_least

__all__ = [
    "ERROR",
    "INFO",
    "SEVERITIES",
    "WARNING",
    "CheckContext",
    "Finding",
    "Rule",
    "all_rules",
    "at_least",
]

FAMILIES = (
    "paraminspect.checks.unregistered",
    "paraminspect.checks.registered",
    "paraminspect.checks.module_config",
    "paraminspect.checks.meta_init",
    "paraminspect.checks.runtime",
)


@dataclass(frozen=True)
class CheckContext:
    """What a rule's check function receives."""

    inventory: Any  # paraminspect.tensors.records.Inventory
    model: Any = None  # the nn.Module the inventory was built from, when there is one
    spec: str = ""


def all_rules() -> dict[str, Rule]:
    """Every rule, by code, in code order."""
    rules: dict[str, Rule] = {}
    for family in FAMILIES:
        try:
            module = importlib.import_module(family)
        except ModuleNotFoundError as exc:
            if exc.name == family:  # a family not written yet
                continue
            raise
        for rule in module.RULES:
            rules[rule.code] = rule
    return dict(sorted(rules.items()))
