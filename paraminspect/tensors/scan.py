"""Following one module attribute through Python containers and plain objects to the tensors and
modules it holds (the walker's second pass, tensors/walk.py, and the `_apply` observation,
tensors/applied.py, share it so that both name a place the same way)."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from typing import Any, Protocol

import torch
from torch import nn

from paraminspect.tensors.records import MAX_NODES_PER_ATTRIBUTE

ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None), range, slice, torch.dtype, torch.device)
ATOM_TYPES = frozenset(ATOMS)
_NOT_PLAIN_OBJECTS = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.GeneratorType,
)


class Scanner(Protocol):
    """What an AttributeScan reports to: the node budget it shares and what it finds.
    `holder` and `key` say where a value sits when that place can be written back (a list, a
    dict, a plain object's field); None for a tuple, a set or the attribute itself."""

    nodes_left: int

    def stopped(self, scan: AttributeScan) -> None: ...

    def held_tensor(
        self, scan: AttributeScan, t: torch.Tensor, access: str, container: str | None, holder: Any, key: Any
    ) -> None: ...

    def held_module(self, scan: AttributeScan, module: nn.Module, access: str, container: str | None) -> None: ...


def plain_object_fields(value: Any) -> dict[str, Any] | None:
    """Fields of a dataclass / simple class instance (torch's own included: a
    torch.distributions.Normal keeps its tensors in `loc` and `scale`), or None when `value` is
    not one to look into (functions, classes, builtins, objects without a __dict__)."""
    if isinstance(value, _NOT_PLAIN_OBJECTS) or (callable(value) and not dataclasses.is_dataclass(value)):
        return None
    if type(value).__module__ == "builtins":
        return None
    try:
        return dict(vars(value))
    except TypeError:
        return None


class AttributeScan:
    """Follows one module attribute through containers and plain objects, recording what it
    holds. Iterative and bounded by a node budget, not a depth: a tensor 50 containers deep
    is found, and an attribute whose values run past the budget is named in a note."""

    def __init__(self, scanner: Scanner, owner: str, owner_type: str, attribute: str) -> None:
        self.scanner = scanner
        self.owner = owner
        self.owner_type = owner_type
        self.attribute = attribute
        self.visited: set[int] = set()

    def run(self, root: Any) -> None:
        # (value, parent node, step from the parent, container kind, holder, key in the holder);
        # access paths are built only for what is found, from the parent links (a long chain
        # costs O(depth) each)
        stack: list[tuple[Any, int, str, str | None, Any, Any]] = [(root, -1, "", None, None, None)]
        links: list[tuple[int, str]] = []
        scanner = self.scanner
        while stack:
            if len(links) >= MAX_NODES_PER_ATTRIBUTE or scanner.nodes_left <= 0:
                scanner.stopped(self)
                return
            value, parent, step, container, holder, key = stack.pop()
            links.append((parent, step))
            scanner.nodes_left -= 1
            node = len(links) - 1
            if isinstance(value, ATOMS):
                continue
            if isinstance(value, torch.Tensor):
                scanner.held_tensor(self, value, _access(links, node), container, holder, key)
                continue
            if isinstance(value, nn.Module):
                scanner.held_module(self, value, _access(links, node), container)
                continue
            if id(value) in self.visited:
                continue
            self.visited.add(id(value))
            # (item, step, kind, key in `value`); `writable`: `value` when an item can be put back
            children: list[tuple[Any, str, str, Any]] = []
            writable = None
            if isinstance(value, tuple) and hasattr(type(value), "_fields"):  # namedtuple
                pairs = zip(type(value)._fields, value, strict=False)
                children = [(item, f".{fname}", "object", None) for fname, item in pairs]
            elif isinstance(value, (list, tuple)):
                kind = "list" if isinstance(value, list) else "tuple"
                children = [(item, f"[{i}]", kind, i) for i, item in enumerate(value)]
                writable = value if kind == "list" else None
            elif isinstance(value, Mapping):
                try:
                    children = [(item, f"[{k}]", "dict", k) for k, item in list(value.items())]
                except Exception:
                    continue
                writable = value if isinstance(value, dict) else None
            elif isinstance(value, (set, frozenset)):
                children = [(item, f"{{{i}}}", "set", None) for i, item in enumerate(value)]
            else:
                fields = plain_object_fields(value)
                children = [(item, f".{fname}", "object", fname) for fname, item in (fields or {}).items()]
                writable = value
            stack.extend((item, node, s, kind, writable, k) for item, s, kind, k in reversed(children))


def _access(links: list[tuple[int, str]], node: int) -> str:
    steps = []
    while node >= 0:
        node, step = links[node]
        steps.append(step)
    return "".join(reversed(steps))
