"""The inventory's plain data: one frozen record per tensor, module and held reference.

Imports no torch, so a parent process and the renderers can use records without it."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

_Record = TypeVar("_Record")


def _pickled_by_fields(cls: type[_Record]) -> type[_Record]:
    """Pickle a slotted frozen dataclass as its class and field values. The default for
    slotted dataclasses calls dataclasses.fields() per object on both sides: for the 50,000
    records that cross from a model's child process that is ~0.25 s of the whole run."""
    fields = dataclasses.fields(cls)
    assert all(f.init for f in fields), f"{cls.__name__}: every field must be an __init__ argument"
    values = operator.attrgetter(*(f.name for f in fields))

    def __reduce__(self: Any) -> tuple[Any, ...]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls


PARAMETER = "parameter"
BUFFER = "buffer"
UNREGISTERED = "unregistered"
# A tensor read from a checkpoint file: a state_dict does not record parameter vs buffer.
STORED = "stored"
# A quantized module's weight kept in a packed (non-tensor) object, shown unpacked the way
# state_dict() saves it; not in parameters() or buffers().
PACKED = "packed"
KINDS = (PARAMETER, BUFFER, UNREGISTERED, STORED, PACKED)

# How many values (containers, plain objects and what they hold) one attribute, and a whole
# model, may expand to while looking for tensors: no depth limit, a bounded walk; when a
# budget stops it, the inventory says so in `notes`.
MAX_NODES_PER_ATTRIBUTE = 20_000
MAX_NODES_PER_MODEL = 2_000_000
# Quantized RNNs nest packed objects inside packed objects.
MAX_PACKED_DEPTH = 8


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class TensorRecord:
    """One tensor object (tied names are aliases of one record, counted once)."""

    name: str
    kind: str
    persistent: bool | None
    requires_grad: bool
    shape: tuple[int, ...] | None
    dtype: str
    device: str
    numel: int | None
    nbytes: int | None
    module: str
    module_type: str
    attribute: str
    aliases: tuple[str, ...] = ()
    is_parameter: bool = False
    uninitialized: bool = False
    tensor_type: str = "Tensor"
    layout: str = "strided"


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class ModuleRecord:
    """One nn.Module object; `registered` is False for modules only reachable through
    plain Python attributes or containers."""

    path: str
    type: str
    qualified_type: str
    registered: bool
    aliases: tuple[str, ...] = ()


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class HeldReference:
    """A tensor or module reached through a module attribute that is not a registration:
    a plain tensor attribute, or an entry of a list/tuple/dict/set/plain object."""

    module: str
    module_type: str
    attribute: str
    access: str
    container: str | None
    target: str  # "tensor" or "module"
    name: str
    requires_grad: bool = False
    is_parameter: bool = False
    registered_as: str | None = None
    registered_kind: str | None = None

    @property
    def path(self) -> str:
        return join_name(self.module, self.attribute) + self.access


@dataclass(frozen=True, slots=True)
class Breakdown:
    tensors: int = 0
    numel: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class Totals:
    parameters: int
    trainable: int
    frozen: int
    buffers: int
    unregistered: int
    bytes: int
    tensors: int
    uninitialized: int
    by_dtype: Mapping[str, Breakdown]
    by_device: Mapping[str, Breakdown]
    stored: int = 0
    packed: int = 0


@dataclass(frozen=True)
class Inventory:
    tensors: tuple[TensorRecord, ...]
    modules: tuple[ModuleRecord, ...]
    references: tuple[HeldReference, ...]
    totals: Totals
    root_type: str
    # path -> class of every module, for source lookups (file:line of assignments).
    module_classes: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # What the walk could not finish (a node budget ran out), for the user to see.
    notes: tuple[str, ...] = ()
    # path -> attribute -> (file, line) of the statement that last set it during the build
    # (paraminspect.tensors.sites); empty for a module built outside paraminspect's loaders.
    assignment_sites: Mapping[str, Mapping[str, tuple[str, int]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # Paths of modules that nn.Module.__init__ never ran on (rule PI014).
    uninitialised: tuple[str, ...] = ()
    # (module, attribute, access) of the plain tensors the model's own `_apply` override moves
    # (paraminspect.tensors.applied); None when there is no override or it could not be observed.
    moved_by_apply: frozenset[tuple[str, str, str]] | None = None

    def by_kind(self, kind: str) -> tuple[TensorRecord, ...]:
        return tuple(r for r in self.tensors if r.kind == kind)


@dataclass(frozen=True, slots=True)
class ModuleSummaryRow:
    path: str
    type: str
    depth: int
    parameters: int
    trainable: int
    fraction: float
    buffers: int = 0  # buffer elements
    bytes: int = 0  # size of every tensor counted (parameters, buffers, unregistered)


def join_name(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def qualified_name(cls: type) -> str:
    module = getattr(cls, "__module__", "") or ""
    return f"{module}.{cls.__qualname__}" if module and module != "builtins" else cls.__qualname__


def dtype_name(dtype: Any) -> str:
    """A dtype as the records spell it: `float32` for torch.float32 (no torch import)."""
    return str(dtype).removeprefix("torch.")
