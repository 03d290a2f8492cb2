"""Tensors that framework code keeps and moves itself: not registration findings.

Two kinds: a module class that overrides `nn.Module._apply` (torchmetrics' Metric moves its
states and their defaults there, so `.to()` reaches them), and a short table of attributes a
framework base class owns by design. No torch import.
"""

from __future__ import annotations

from functools import lru_cache

from paraminspect.sources import is_library_class, is_torch_class

# (base class name, attribute) -> why it is not a finding. The base class is matched by name in
# the owner's MRO, and only when it is defined in an installed library.
OWNED_ATTRIBUTES: dict[tuple[str, str], str] = {
    ("LightningModule", "_example_input_array"): (
        "Lightning's example_input_array: a sample input that Lightning moves to the device itself"
    ),
}


@lru_cache(maxsize=4096)
def moves_own_tensors(cls: type) -> bool:
    """The class (not torch itself) overrides `_apply`, which `.to()`/`.cuda()` call."""
    return any(
        "_apply" in vars(klass)
        for klass in getattr(cls, "__mro__", ())
        if klass is not object and not is_torch_class(klass)
    )


def framework_owns(cls: type | None, attribute: str) -> bool:
    """Whether the plain tensors in `cls`'s attribute are the framework's to manage."""
    if cls is None:
        return False
    for klass in cls.__mro__:
        if (klass.__name__, attribute) in OWNED_ATTRIBUTES and is_library_class(klass):
            return True
    return moves_own_tensors(cls)
