"""Tensors that framework code keeps and moves itself: not registration findings.

Two kinds: the plain tensors a module class's own `nn.Module._apply` moves (torchmetrics'
Metric moves its states and their defaults there, so `.to()` reaches them), observed per
tensor when the inventory is built (paraminspect.tensors.applied; the whole class is trusted
only where that observation could not run), and a short table of attributes a framework base
class owns by design. No torch import.
"""

from __future__ import annotations

from paraminspect.sources import is_library_class, overrides_apply

# (base class name, attribute) -> why it is not a finding. The base class is matched by name in
# the owner's MRO, and only when it is defined in an installed library.
OWNED_ATTRIBUTES: dict[tuple[str, str], str] = {
    ("LightningModule", "_example_input_array"): (
        "Lightning's example_input_array: a sample input that Lightning moves to the device itself"
    ),
}


def framework_owns(cls: type | None, attribute: str, apply_observed: bool = False) -> bool:
    """Whether the plain tensors in `cls`'s attribute are the framework's to manage as a whole:
    an attribute of OWNED_ATTRIBUTES, or any attribute of a class overriding `_apply` when what
    that override moves could not be observed (`apply_observed`: it was, so each tensor is
    decided by what it did)."""
    if cls is None:
        return False
    for klass in cls.__mro__:
        if (klass.__name__, attribute) in OWNED_ATTRIBUTES and is_library_class(klass):
            return True
    return not apply_observed and overrides_apply(cls)
