"""What torch.ao's quantized modules write to their state_dict themselves: weights kept in
packed ScriptObjects (`fc._packed_params._packed_params`, `conv.weight`), and `scale` and
`zero_point` kept as plain numbers (`fc.scale`, a quantized add's `add_relu.scale`). None of
them is a parameter or a buffer; they are recorded as kind `packed` under their state_dict
names, so that a quantized model's listing adds up to its state_dict."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from paraminspect.tensors.records import MAX_PACKED_DEPTH, PACKED, join_name

_MODULE_SAVE = nn.Module._save_to_state_dict


def _packed_tensors(value: Any, access: str, depth: int = 0) -> Iterator[tuple[str, torch.Tensor]]:
    """Tensors inside a quantized module's saved state: tensors, tuples of them, or a packed
    ScriptObject whose __getstate__ holds them."""
    if isinstance(value, torch.Tensor):
        yield access, value
    elif depth < MAX_PACKED_DEPTH and isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _packed_tensors(item, f"{access}[{i}]", depth + 1)
    elif depth < MAX_PACKED_DEPTH and isinstance(value, torch.ScriptObject):
        try:
            state = value.__getstate__()
        except Exception:
            return
        yield from _packed_tensors(state, access, depth + 1)


def _saves_its_own_state(module: nn.Module, attributes: dict[str, Any]) -> bool:
    """A torch.ao quantized module whose state_dict holds more than its registered tensors."""
    if isinstance(module, torch.jit.ScriptModule):
        return False  # its `_c` is a ScriptObject too, but its tensors are registered ones
    if type(module)._save_to_state_dict is not _MODULE_SAVE:
        return True
    return any(isinstance(v, torch.ScriptObject) for v in attributes.values())


def add_packed(builder: Any) -> None:
    """Record what quantized modules' state_dict() saves beyond their parameters and buffers
    (`builder`: tensors.walk's _Builder), so that it is not invisible."""
    for key, fields in list(builder.modules.items()):
        module = builder.module_objects[key]
        if "quantized" not in (type(module).__module__ or ""):
            continue  # torch.ao.nn.quantized, .quantized.dynamic, .intrinsic.quantized
        attributes = vars(module)
        if not _saves_its_own_state(module, attributes):
            continue
        saved: dict[str, Any] = {}
        try:
            module._save_to_state_dict(saved, "", keep_vars=True)
        except Exception:
            continue  # shown without its packed state rather than failing the whole inventory
        registered = set(attributes.get("_parameters", {}).keys()) | set(attributes.get("_buffers", {}).keys())
        path = fields["path"]
        for name, value in saved.items():
            if name in registered:
                continue
            for access, t in _packed_tensors(value, ""):
                builder.add_tensor(t, join_name(path, name) + access, PACKED, path, fields["type"], name)
