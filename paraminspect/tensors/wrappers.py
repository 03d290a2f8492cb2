"""Wrappers looked through: torch.compile, DataParallel, DDP, FSDP."""

from __future__ import annotations

from typing import Any

from torch import nn


def _registered_child(model: nn.Module, name: str) -> Any:
    """A registered child read from `_modules` directly: never runs properties or __getattr__."""
    try:
        return vars(model)["_modules"][name]
    except Exception:
        return None


def unwrap(model: Any) -> tuple[nn.Module, list[str]]:
    """The module whose names users expect: torch.compile and DataParallel/DDP wrappers are
    looked through (with a note), so names carry no `_orig_mod.` / `module.` prefix."""
    notes: list[str] = []
    seen: set[int] = set()
    while id(model) not in seen:
        seen.add(id(model))
        inner = _registered_child(model, "_orig_mod")
        if isinstance(inner, nn.Module) and type(model).__name__ == "OptimizedModule":
            notes.append("compiled with torch.compile: showing the original module")
            model = inner
            continue
        inner = _registered_child(model, "module")
        if isinstance(inner, nn.Module) and type(model).__name__ in (
            "DataParallel",
            "DistributedDataParallel",
            "FullyShardedDataParallel",
        ):
            notes.append(f"wrapped in {type(model).__name__}: showing the wrapped module")
            model = inner
            continue
    return model, notes
