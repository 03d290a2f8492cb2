"""PI002's special case: a torch.nn module built with a tensor where a number belongs
(`nn.Linear(dims[0], dims[1])` keeps 0-dim tensors in in_features/out_features). The fix is
at the call that builds the module, so the finding is placed there."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from paraminspect.checks.rule import Finding


def torch_argument(ctx: Any, module: str, attribute: str) -> str | None:
    """The torch.nn class whose constructor argument `attribute` is (nn.Linear's in_features),
    when a tensor was passed there: a number that arrived as a tensor, not a tensor to register."""
    import inspect

    from paraminspect.sources import is_torch_class

    cls = getattr(ctx.inventory, "module_classes", {}).get(module)
    if cls is None or not is_torch_class(cls):
        return None
    try:
        return cls.__name__ if attribute in inspect.signature(cls.__init__).parameters else None
    except (TypeError, ValueError):
        return None


def at_creation(ctx: Any, module: str, finding: Finding) -> Finding:
    """The finding at the line that creates the torch module (`self.proj = nn.Linear(...)` in
    its parent's class): torch's own source is never the place to fix."""
    from paraminspect.sources import find_assignment

    parent, _, child = module.rpartition(".")
    cls = getattr(ctx.inventory, "module_classes", {}).get(parent)
    location = find_assignment(cls, (child,)) if cls is not None and child and "[" not in child else None
    return replace(finding, file=location.file, line=location.line) if location is not None else finding
