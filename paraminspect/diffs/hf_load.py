"""What transformers' `from_pretrained` would say about a checkpoint, before anything loads.

`load_state_dict(strict=True)` refuses a save_pretrained folder's own weights (a tied head
is saved once) and a base model's checkpoint under a head class (no `model.` prefix);
from_pretrained accepts both. These pure functions replay its bookkeeping on the two key
sets: the base_model_prefix added or stripped, tied weights filled by the tie, the model's
`_keys_to_ignore_on_load_missing/unexpected` patterns; what is left is its "Some weights of
X were not initialized from the model checkpoint ... newly initialized" and "Some weights of
the model checkpoint were not used" lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from paraminspect.diffs.keyset import KeySet
from paraminspect.wording import plural


@dataclass(frozen=True)
class HFLoadRules:
    """A transformers model's loading rules, read from the built model."""

    model_class: str
    base_model_prefix: str
    ignore_missing: tuple[str, ...] = ()
    ignore_unexpected: tuple[str, ...] = ()


@dataclass(frozen=True)
class FromPretrained:
    """from_pretrained's view: `prefix` is "added" (a base model's checkpoint), "stripped"
    (a head model's checkpoint into the base model) or None."""

    model_class: str
    prefix: str | None
    prefix_action: str | None
    tied_filled: tuple[str, ...]
    newly_initialized: tuple[str, ...]
    not_used: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not (self.newly_initialized or self.not_used)

    def summary(self) -> str:
        if self.clean:
            return f"transformers' from_pretrained would load it into {self.model_class} without warnings"
        parts = []
        if self.newly_initialized:
            parts.append(f"{plural(len(self.newly_initialized), 'weight')} newly initialized (not in the checkpoint)")
        if self.not_used:
            parts.append(f"{plural(len(self.not_used), 'checkpoint weight')} not used")
        return f"transformers' from_pretrained into {self.model_class}: " + ", ".join(parts)


def rules_of(module: Any) -> HFLoadRules | None:
    """The loading rules of a transformers PreTrainedModel, else None."""
    prefix = getattr(module, "base_model_prefix", None)
    if not isinstance(prefix, str) or not hasattr(module, "_keys_to_ignore_on_load_missing"):
        return None

    def patterns(attr: str) -> tuple[str, ...]:
        return tuple(sorted(p for p in (getattr(module, attr, None) or ()) if isinstance(p, str)))

    return HFLoadRules(
        type(module).__name__,
        prefix,
        patterns("_keys_to_ignore_on_load_missing"),
        patterns("_keys_to_ignore_on_load_unexpected"),
    )


def _ignored(name: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        try:
            if re.search(pattern, name):
                return True
        except re.error:  # not a regex: transformers' own patterns always are, but be safe
            if pattern in name:
                return True
    return False


def from_pretrained_view(left: KeySet, right: KeySet, rules: HFLoadRules) -> FromPretrained:
    """Replay from_pretrained's key bookkeeping for `right`'s keys loaded into `left`."""
    target = set(left.keys)
    stored = list(right.keys)
    prefix = f"{rules.base_model_prefix}." if rules.base_model_prefix else ""
    action = None
    if prefix:
        left_has = any(n.startswith(prefix) for n in target)
        right_has = any(n.startswith(prefix) for n in stored)
        if left_has and not right_has:  # a base model's checkpoint into a model with a head
            stored, action = [prefix + n for n in stored], "added"
        elif right_has and not left_has:  # a head model's checkpoint into the base model
            stored, action = [n[len(prefix) :] if n.startswith(prefix) else n for n in stored], "stripped"
    present = set(stored)
    tied_filled = []
    for group in left.tied:
        if any(n in present for n in group):
            tied_filled += [n for n in group if n not in present]
    filled = set(tied_filled)
    missing = [n for n in left.keys if n not in present and n not in filled]
    unexpected = [n for n in stored if n not in target]
    return FromPretrained(
        model_class=rules.model_class,
        prefix=prefix.rstrip(".") if action else None,
        prefix_action=action,
        tied_filled=tuple(tied_filled),
        newly_initialized=tuple(n for n in missing if not _ignored(n, rules.ignore_missing)),
        not_used=tuple(n for n in unexpected if not _ignored(n, rules.ignore_unexpected)),
    )
