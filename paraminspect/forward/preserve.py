"""Leave a model exactly as it was found after running it: a snapshot before, restored after
(also when forward raised). Tools that run a model to describe it have changed it (torchinfo
#287 left hooks behind, thop #82 left attributes and modes behind); this undoes whatever the
run or the model's own forward did to:

- every module's attributes (`training`, caches a forward sets, `self.x = ...`) and the
  contents of its private containers (registration and hook dicts, nn.RNNBase's
  `_flat_weights`), put back as they were (the same objects, shallow);
- every parameter's and buffer's `requires_grad`, `.grad` and data (a `p.data = ...` swap);
- the random number generators (torch's CPU generator, CUDA's when CUDA is initialised,
  Python's `random`, numpy's when imported), the default dtype and the default device.

Hooks the run itself registers are removed by their own handles (forward/flops.py)."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class _ModuleState:
    module: nn.Module
    attributes: dict[str, Any]
    containers: list[tuple[Any, Any]]  # (container, shallow copy of its contents)


@dataclass
class _TensorState:
    tensor: torch.Tensor
    requires_grad: bool
    grad: torch.Tensor | None
    data: torch.Tensor
    storage: Any


@dataclass
class ModelState:
    modules: list[_ModuleState] = field(default_factory=list)
    tensors: list[_TensorState] = field(default_factory=list)
    torch_rng: torch.Tensor | None = None
    cuda_rng: list[torch.Tensor] | None = None
    python_rng: Any = None
    numpy_rng: Any = None
    default_dtype: torch.dtype = torch.float32
    default_device: torch.device | None = None


def _copy(container: Any) -> Any:
    if isinstance(container, dict):
        return dict(container)
    if isinstance(container, (list, set)):
        return type(container)(container)
    return None


def _storage(t: torch.Tensor) -> Any:
    try:
        return t.untyped_storage()._cdata
    except Exception:
        return None


def snapshot(model: nn.Module) -> ModelState:
    state = ModelState()
    for module in model.modules():
        attributes = dict(vars(module))
        containers = [
            (value, _copy(value))
            for name, value in attributes.items()
            if name.startswith("_") and isinstance(value, (dict, list, set))
        ]
        state.modules.append(_ModuleState(module, attributes, containers))
    seen: set[int] = set()
    for t in (*model.parameters(), *model.buffers()):
        if id(t) in seen:
            continue
        seen.add(id(t))
        state.tensors.append(_TensorState(t, t.requires_grad, t.grad if t.is_leaf else None, t.data, _storage(t)))
    state.torch_rng = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state.cuda_rng = torch.cuda.get_rng_state_all()
    state.python_rng = random.getstate()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            state.numpy_rng = numpy.random.get_state()
        except Exception:
            state.numpy_rng = None
    state.default_dtype = torch.get_default_dtype()
    get_default_device = getattr(torch, "get_default_device", None)
    state.default_device = get_default_device() if get_default_device is not None else None
    return state


def restore(state: ModelState) -> None:
    for saved in state.modules:
        attributes = vars(saved.module)
        if not _same(attributes, saved.attributes):
            attributes.clear()
            attributes.update(saved.attributes)
        for container, contents in saved.containers:
            if isinstance(container, dict):
                if not _same(container, contents):
                    container.clear()
                    container.update(contents)
            elif isinstance(container, list):
                if len(container) != len(contents) or any(a is not b for a, b in zip(container, contents, strict=True)):
                    container[:] = contents
            elif container != contents:
                container.clear()
                container.update(contents)
    for t in state.tensors:
        if _storage(t.tensor) != t.storage:
            t.tensor.data = t.data
        if t.tensor.is_leaf:
            if t.tensor.requires_grad != t.requires_grad:
                t.tensor.requires_grad_(t.requires_grad)
            if t.tensor.grad is not t.grad:
                t.tensor.grad = t.grad
    if state.torch_rng is not None:
        torch.set_rng_state(state.torch_rng)
    if state.cuda_rng is not None:
        torch.cuda.set_rng_state_all(state.cuda_rng)
    random.setstate(state.python_rng)
    numpy = sys.modules.get("numpy")
    if numpy is not None and state.numpy_rng is not None:
        numpy.random.set_state(state.numpy_rng)
    torch.set_default_dtype(state.default_dtype)
    if state.default_device is not None and torch.get_default_device() != state.default_device:
        # CPU is torch's own default: clearing the setting gives it back without a device mode
        torch.set_default_device(None if state.default_device.type == "cpu" else state.default_device)


def _same(now: dict[Any, Any], before: dict[Any, Any]) -> bool:
    """The same keys, in order, holding the same objects (identity: tensors have no plain ==)."""
    return len(now) == len(before) and all(
        k1 == k2 and v1 is v2 for (k1, v1), (k2, v2) in zip(now.items(), before.items(), strict=True)
    )


@contextmanager
def preserved(model: nn.Module) -> Iterator[ModelState]:
    """The block may run `model` in any way: afterwards it is as it was before."""
    state = snapshot(model)
    try:
        yield state
    finally:
        restore(state)
