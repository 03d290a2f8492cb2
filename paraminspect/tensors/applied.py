"""Which plain tensors a model's own `_apply` moves: observed, not guessed from the class.

`.to()`, `.cuda()` and `.half()` call `nn.Module._apply(fn)` on the root, which calls it on
every child. A library class may override it to move tensors nn.Module does not know about
(torchmetrics' Metric moves its states, ultralytics' BaseModel moves its head's `stride`,
kornia's augmentations rebuild their samplers). Whether one particular plain tensor moves
depends on that code, so it is run: `_apply` with a function that gives every tensor that is
not registered a new tensor of another dtype on meta (registered ones are returned as they are,
so nothing registered changes), then the plain tensors are looked up again. A place (module,
attribute, access path) whose tensor was replaced by one of another dtype or device moved; one
still holding the old tensor did not (the root's alias of a head's `stride`, kept when the head's
copy is replaced, did not). Afterwards every module's attributes, parameters, buffers and
submodules, and every list, dict and object field that held a plain tensor, are put back.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from paraminspect.sources import overrides_apply
from paraminspect.tensors.records import MAX_NODES_PER_MODEL
from paraminspect.tensors.scan import AttributeScan

Place = tuple[str, str, str]  # (module path, attribute, access path), as HeldReference has them
_OWN_DICTS = ("_parameters", "_buffers", "_modules")


class _Places:
    """An AttributeScan's receiver that notes where each tensor sits (and how to put it back)."""

    def __init__(self) -> None:
        self.nodes_left = MAX_NODES_PER_MODEL
        self.found: dict[Place, tuple[torch.Tensor, Any, Any]] = {}

    def stopped(self, scan: AttributeScan) -> None:
        pass

    def held_tensor(
        self, scan: AttributeScan, t: torch.Tensor, access: str, container: str | None, holder: Any, key: Any
    ) -> None:
        self.found.setdefault((scan.owner, scan.attribute, access), (t, holder, key))

    def held_module(self, scan: AttributeScan, module: nn.Module, access: str, container: str | None) -> None:
        pass


def _places(modules: Mapping[str, nn.Module], pairs: Iterable[tuple[str, str]]) -> dict[Place, Any]:
    receiver = _Places()
    for path, attribute in pairs:
        module = modules.get(path)
        attributes = getattr(module, "__dict__", {})
        if attribute in attributes:
            AttributeScan(receiver, path, "", attribute).run(attributes[attribute])
    return receiver.found


def _flipped(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype == torch.float64 else torch.float64


def _snapshot(modules: Iterable[nn.Module]) -> list[tuple[nn.Module, dict[str, Any], list[tuple[dict, dict]]]]:
    saved = []
    for module in modules:
        attributes = dict(module.__dict__)
        own = [(d, dict(d)) for name in _OWN_DICTS if isinstance(d := attributes.get(name), dict)]
        saved.append((module, attributes, own))
    return saved


def _restore_data(data: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Registered tensors whose `.data` an override replaced (`self.w.data = fn(self.w.data)`:
    `fn` sees a new alias, not the registered tensor) get their own data back."""
    for t, own in data:
        try:
            if t.dtype != own.dtype or t.device != own.device or t.shape != own.shape:
                t.data = own
        except Exception:
            pass


def _restore(saved: list[Any], before: Mapping[Place, tuple[torch.Tensor, Any, Any]]) -> None:
    for t, holder, key in before.values():
        try:
            if isinstance(holder, (list, dict)):
                if holder[key] is not t:
                    holder[key] = t
            elif holder is not None and vars(holder).get(key) is not t:
                vars(holder)[key] = t
        except Exception:  # a container the override reshaped: the module dicts below still hold the old one
            pass
    for module, attributes, own in saved:
        module.__dict__.clear()
        module.__dict__.update(attributes)
        for live, contents in own:
            live.clear()
            live.update(contents)


def _moved(before: torch.Tensor, after: Any, outputs: Mapping[int, torch.Tensor]) -> bool:
    if after is None or after is before:
        return False
    if id(after) in outputs:
        return True
    try:  # rebuilt by the override itself (kornia's samplers) from what `fn` told it
        return after.dtype != before.dtype or after.device != before.device
    except Exception:
        return False


def observe_apply(
    root: nn.Module,
    modules: Mapping[str, nn.Module],
    plain: Iterable[tuple[str, str]],
    registered: Mapping[int, torch.Tensor],
) -> frozenset[Place] | None:
    """The places of plain tensors (in `plain`'s (module path, attribute) pairs) that
    `root._apply` replaces; None when no module class overrides `_apply` (nothing to observe)
    or the override failed here (then its classes are trusted as a whole). `registered`: the
    parameters and buffers by id, handed back to `_apply` unchanged."""
    if not any(overrides_apply(cls) for cls in {type(m) for m in modules.values()}):
        return None
    if torch.__future__.get_swap_module_params_on_conversion():
        return None  # _apply would swap the registered tensors' contents: not observable harmlessly
    pairs = list(dict.fromkeys(plain))
    before = _places(modules, pairs)
    if not before:
        return frozenset()
    outputs: dict[int, torch.Tensor] = {}

    def fn(t: torch.Tensor) -> torch.Tensor:
        if id(t) in registered:
            return t
        with torch.no_grad():
            if t.is_floating_point():
                out = t.to(device="meta", dtype=_flipped(t.dtype), copy=True)
            else:
                out = t.to(device="meta", copy=True)
        outputs[id(out)] = out  # kept alive: ids stay unique
        return out

    saved = _snapshot(modules.values())
    data = [(t, t.data) for t in registered.values()]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root._apply(fn)
        after = _places(modules, pairs)
    except Exception:
        return None
    finally:
        _restore(saved, before)
        _restore_data(data)
    return frozenset(place for place, (t, _, _) in before.items() if _moved(t, after.get(place, (None,))[0], outputs))
