"""Facts about one tensor or module read from metadata only, and which attributes torch.nn
itself keeps (bookkeeping that is never reported)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import torch
from torch import nn
from torch.nn.parameter import UninitializedTensorMixin

from paraminspect.sources import class_lines, is_torch_class
from paraminspect.tensors.records import dtype_name as name_of_dtype


@cache
def module_bookkeeping() -> frozenset[str]:
    # What nn.Module.__init__ itself sets, computed rather than hard-coded so new torch
    # releases that add hook dicts keep working.
    return frozenset(vars(nn.Module()))


_SELF_ASSIGN = re.compile(r"self\.(_\w+)\s*(?::[^=\n]+)?=|setattr\(\s*self\s*,\s*['\"](_\w+)['\"]")


@cache
def _assigned_private_names(base: type) -> frozenset[str]:
    """Private attributes a class's own source assigns to `self` (one torch.nn class: the
    same few bases serve every class derived from them)."""
    source = class_lines(base)
    if source is None:
        return frozenset()
    text = "".join(source[1])
    return frozenset(match.group(1) or match.group(2) for match in _SELF_ASSIGN.finditer(text))


@cache
def _torch_private_names(cls: type) -> frozenset[str]:
    """Private attributes that torch.nn base classes of `cls` assign themselves
    (nn.RNNBase's `_flat_weights`, ...): bookkeeping, not user bugs."""
    names: set[str] = set()
    for base in cls.__mro__:
        if base is not nn.Module and is_torch_class(base):
            names |= _assigned_private_names(base)
    return frozenset(names)


def hook_managed_names(module: nn.Module) -> set[str]:
    """Attributes recomputed by torch.nn.utils hooks before each forward (weight_norm,
    spectral_norm, prune set `weight` as a plain tensor derived from registered ones)."""
    names: set[str] = set()
    for hook in getattr(module, "_forward_pre_hooks", {}).values():
        if (type(hook).__module__ or "").startswith("torch.nn.utils"):
            for attr in ("name", "_tensor_name"):
                value = getattr(hook, attr, None)
                if isinstance(value, str):
                    names.add(value)
    return names


@cache
def class_skips(cls: type) -> tuple[frozenset[str], bool]:
    """(attribute names never reported for this class, whether all private names are skipped)."""
    if is_torch_class(cls):
        return module_bookkeeping(), True
    return module_bookkeeping() | _torch_private_names(cls), False


_COMPRESSED_PARTS = {
    "sparse_csr": ("values", "crow_indices", "col_indices"),
    "sparse_bsr": ("values", "crow_indices", "col_indices"),
    "sparse_csc": ("values", "ccol_indices", "row_indices"),
    "sparse_bsc": ("values", "ccol_indices", "row_indices"),
}


def _plain_bytes(t: torch.Tensor) -> int:
    return int(t.numel()) * t.element_size()


def type_name(module: Any) -> str:
    """The class name users wrote: a torch.jit.script module reports its original class."""
    if isinstance(module, torch.jit.ScriptModule):
        try:
            return str(module.original_name)
        except Exception:
            pass
    return type(module).__name__


_DTYPE_NAMES: dict[Any, str] = {}
_DEVICE_NAMES: dict[Any, str] = {}


def _fast_tensor_facts(t: torch.Tensor) -> dict[str, Any] | None:
    """The common case (a dense nn.Parameter or Tensor) without the defensive slow path:
    50,000 tensors must inventory in well under a second."""
    cls = type(t)
    if (cls is not nn.Parameter and cls is not torch.Tensor) or t.layout is not torch.strided:
        return None
    dtype, device = t.dtype, t.device
    dtype_name = _DTYPE_NAMES.get(dtype) or _DTYPE_NAMES.setdefault(dtype, name_of_dtype(dtype))
    device_name = _DEVICE_NAMES.get(device) or _DEVICE_NAMES.setdefault(device, str(device))
    numel = t.numel()
    return {
        "requires_grad": t.requires_grad,
        "uninitialized": False,
        "tensor_type": cls.__name__,
        "is_parameter": cls is nn.Parameter,
        "dtype": dtype_name,
        "device": device_name,
        "layout": "strided",
        "shape": tuple(t.shape),
        "numel": numel,
        "nbytes": numel * t.element_size(),
    }


def _tensor_facts(t: torch.Tensor) -> dict[str, Any]:
    """Metadata only: never touches tensor data (works on meta, lazy, sparse, subclasses)."""
    fast = _fast_tensor_facts(t)
    if fast is not None:
        return fast
    uninitialized = isinstance(t, UninitializedTensorMixin)
    try:  # a subclass's __torch_function__ may raise on any attribute
        requires_grad = bool(t.requires_grad)
    except Exception:
        requires_grad = False
    facts: dict[str, Any] = {
        "requires_grad": requires_grad,
        "uninitialized": uninitialized,
        "tensor_type": type(t).__name__,
        "is_parameter": isinstance(t, nn.Parameter),
    }
    try:
        facts["dtype"] = name_of_dtype(t.dtype)
    except Exception:  # exotic subclasses may refuse even metadata
        facts["dtype"] = "unknown"
    try:
        facts["device"] = str(t.device)
    except Exception:
        facts["device"] = "unknown"
    try:
        facts["layout"] = str(t.layout).removeprefix("torch.")
    except Exception:
        facts["layout"] = "unknown"
    shape = numel = nbytes = None
    if not uninitialized:
        try:
            shape = tuple(int(s) for s in t.shape)
            numel = int(t.numel())
            if facts["layout"] == "strided":
                nbytes = numel * t.element_size()
            elif facts["layout"] == "sparse_coo":
                nbytes = sum(_plain_bytes(part) for part in (t._values(), t._indices()))
            elif facts["layout"] in _COMPRESSED_PARTS:
                nbytes = sum(_plain_bytes(getattr(t, part)()) for part in _COMPRESSED_PARTS[facts["layout"]])
        except Exception:
            pass
    facts.update(shape=shape, numel=numel, nbytes=nbytes)
    return facts


def tensor_facts(t: torch.Tensor) -> dict[str, Any]:
    """requires_grad, dtype, device, layout, shape, numel, nbytes... of a tensor, from its
    metadata only (see TensorRecord)."""
    return _tensor_facts(t)
