"""The tensors in a module's output, flattened in order: tuples and lists (namedtuples
included), dict values (Hugging Face's ModelOutput is an OrderedDict), dataclass fields, and
the public tensor attributes of other objects (a torch.distributions.Normal's loc and scale,
a Categorical's logits). Bounded in depth, each container once (cycles end)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

MAX_DEPTH = 8


def output_tensors(value: Any) -> list[torch.Tensor]:
    """Every tensor in `value`, in order; the same tensor twice in a tuple is listed twice."""
    return list(_walk(value, 0, set()))


def _walk(value: Any, depth: int, seen: set[int]) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
        return
    if value is None or isinstance(value, (str, bytes, int, float, bool, complex, nn.Module, type, torch.Size)):
        return
    if depth >= MAX_DEPTH or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, (list, tuple)):
        items: Any = value
    elif isinstance(value, dict):
        items = value.values()
    elif dataclasses.is_dataclass(value):
        items = [getattr(value, f.name, None) for f in dataclasses.fields(value)]
    elif callable(value) or isinstance(value, (set, frozenset)):  # functions; sets have no order
        return
    else:
        try:
            attributes = vars(value)
        except TypeError:  # no __dict__
            return
        # public attributes only: a distribution's `_param` repeats its logits or probs
        items = [v for k, v in attributes.items() if not k.startswith("_")]
    for item in items:
        yield from _walk(item, depth + 1, seen)


def shape_of(t: torch.Tensor) -> tuple[int, ...] | None:
    """The shape as plain ints; None for a tensor without one (nested, symbolic)."""
    try:
        return tuple(int(n) for n in t.shape)
    except Exception:
        return None
