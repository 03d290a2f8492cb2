"""nn.Module -> one frozen record per tensor reachable from the module tree.

Pure: no printing, no rich. Cost is O(number of tensors and attributes), never O(numel):
no tensor data is read, so meta tensors and 70B-parameter models cost the same.
"""

from __future__ import annotations

import dataclasses
import gc
import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import torch
from torch import nn
from torch.nn.parameter import UninitializedTensorMixin

from paraminspect.sources import is_torch_class

PARAMETER = "parameter"
BUFFER = "buffer"
UNREGISTERED = "unregistered"
# A tensor read from a checkpoint file: a state_dict does not record parameter vs buffer.
STORED = "stored"
# A quantized module's weight kept in a packed (non-tensor) object, shown unpacked the way
# state_dict() saves it; not in parameters() or buffers().
PACKED = "packed"
KINDS = (PARAMETER, BUFFER, UNREGISTERED, STORED, PACKED)

# How far into nested containers / plain objects an attribute is followed, and how many
# values one attribute may expand to: enough for real models, bounded for pathological ones.
MAX_CONTAINER_DEPTH = 4
MAX_NODES_PER_ATTRIBUTE = 20_000
# Quantized RNNs nest packed objects inside packed objects.
MAX_PACKED_DEPTH = 8


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


@dataclass(frozen=True, slots=True)
class ModuleRecord:
    """One nn.Module object; `registered` is False for modules only reachable through
    plain Python attributes or containers."""

    path: str
    type: str
    qualified_type: str
    registered: bool
    aliases: tuple[str, ...] = ()


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
        return _join(self.module, self.attribute) + self.access


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
    module_classes: Mapping[str, type] = field(default_factory=dict, repr=False, compare=False)

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


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def qualified_name(cls: type) -> str:
    module = getattr(cls, "__module__", "") or ""
    return f"{module}.{cls.__qualname__}" if module and module != "builtins" else cls.__qualname__


@cache
def module_bookkeeping() -> frozenset[str]:
    # What nn.Module.__init__ itself sets, computed rather than hard-coded so new torch
    # releases that add hook dicts keep working.
    return frozenset(vars(nn.Module()))


_SELF_ASSIGN = re.compile(r"self\.(_\w+)\s*(?::[^=\n]+)?=|setattr\(\s*self\s*,\s*['\"](_\w+)['\"]")


@cache
def _torch_private_names(cls: type) -> frozenset[str]:
    """Private attributes that torch.nn base classes of `cls` assign themselves
    (nn.RNNBase's `_flat_weights`, ...): bookkeeping, not user bugs."""
    import inspect

    names: set[str] = set()
    for base in cls.__mro__:
        if base is nn.Module or not is_torch_class(base):
            continue
        try:
            source = inspect.getsource(base)
        except (OSError, TypeError):
            continue
        for match in _SELF_ASSIGN.finditer(source):
            names.add(match.group(1) or match.group(2))
    return frozenset(names)


def _hook_managed_names(module: nn.Module) -> set[str]:
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
def _class_skips(cls: type) -> tuple[frozenset[str], bool]:
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


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


_DTYPE_NAMES: dict[Any, str] = {}
_DEVICE_NAMES: dict[Any, str] = {}


def _fast_tensor_facts(t: torch.Tensor) -> dict[str, Any] | None:
    """The common case (a dense nn.Parameter or Tensor) without the defensive slow path:
    50,000 tensors must inventory in well under a second."""
    cls = type(t)
    if (cls is not nn.Parameter and cls is not torch.Tensor) or t.layout is not torch.strided:
        return None
    dtype, device = t.dtype, t.device
    dtype_name = _DTYPE_NAMES.get(dtype) or _DTYPE_NAMES.setdefault(dtype, _dtype_name(dtype))
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
    facts: dict[str, Any] = {
        "requires_grad": bool(getattr(t, "requires_grad", False)),
        "uninitialized": uninitialized,
        "tensor_type": type(t).__name__,
        "is_parameter": isinstance(t, nn.Parameter),
    }
    try:
        facts["dtype"] = _dtype_name(t.dtype)
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


@dataclass
class _Builder:
    """Mutable state of one inventory walk."""

    records: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(tensor) -> fields
    order: list[int] = field(default_factory=list)
    modules: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(module) -> fields
    module_objects: dict[int, nn.Module] = field(default_factory=dict)
    module_classes: dict[str, type] = field(default_factory=dict)
    references: list[HeldReference] = field(default_factory=list)
    tensor_objects: dict[int, torch.Tensor] = field(default_factory=dict)  # also keeps ids unique

    def add_module(self, module: nn.Module, path: str, registered: bool) -> bool:
        """Record `module` at `path`; True when this is its first sighting."""
        key = id(module)
        if key in self.modules:
            if path not in self.modules[key]["aliases"] and path != self.modules[key]["path"]:
                self.modules[key]["aliases"].append(path)
            return False
        cls = type(module)
        self.modules[key] = {
            "path": path,
            "type": type_name(module),
            "qualified_type": qualified_name(cls),
            "registered": registered,
            "aliases": [],
        }
        self.module_objects[key] = module
        self.module_classes[path] = cls
        return True

    def add_tensor(
        self,
        t: torch.Tensor,
        name: str,
        kind: str,
        module: str,
        module_type: str,
        attribute: str,
        persistent: bool | None = None,
    ) -> bool:
        """Record tensor `t` under `name`; True when this is its first sighting."""
        key = id(t)
        existing = self.records.get(key)
        if existing is not None:
            if name != existing["name"] and name not in existing["aliases"]:
                existing["aliases"].append(name)
            return False
        fields = _tensor_facts(t)
        fields.update(
            name=name,
            kind=kind,
            persistent=persistent,
            module=module,
            module_type=module_type,
            attribute=attribute,
            aliases=[],
        )
        self.records[key] = fields
        self.order.append(key)
        self.tensor_objects[key] = t
        return True


def _walk_registered(builder: _Builder, root: nn.Module) -> None:
    """Registered modules, parameters and buffers, in named_modules() order.

    Iterative (200+ levels deep is fine) and cycle-safe: a module that is an ancestor of
    itself is not entered again; a module shared under two names is entered again only to
    record the aliases of its tensors.
    """
    # (module, path, leaving): a leaving marker takes the module off the current DFS path
    stack: list[tuple[nn.Module, str, bool]] = [(root, "", False)]
    on_path: set[int] = set()
    visits = 0
    budget = 200_000
    add_tensor = builder.add_tensor
    while stack:
        module, path, leaving = stack.pop()
        if leaving:
            on_path.discard(id(module))
            continue
        visits += 1
        first = builder.add_module(module, path, registered=True)
        if not first and visits > budget:
            continue
        cls_name = builder.modules[id(module)]["type"]
        prefix = f"{path}." if path else ""
        for name, p in getattr(module, "_parameters", {}).items():
            if p is not None:
                add_tensor(p, prefix + name, PARAMETER, path, cls_name, name)
        non_persistent = getattr(module, "_non_persistent_buffers_set", ())
        for name, b in getattr(module, "_buffers", {}).items():
            if b is not None:
                add_tensor(b, prefix + name, BUFFER, path, cls_name, name, persistent=name not in non_persistent)
        children = [(name, child) for name, child in getattr(module, "_modules", {}).items() if child is not None]
        if not children:
            continue
        on_path.add(id(module))
        stack.append((module, path, True))
        # reversed so that the stack pops children in registration order
        for name, child in reversed(children):
            if id(child) not in on_path:
                stack.append((child, prefix + name, False))


_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None), range, slice, torch.dtype, torch.device)
_ATOM_TYPES = frozenset(_ATOMS)
_NOT_PLAIN_OBJECTS = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.GeneratorType,
)


def _plain_object_fields(value: Any) -> dict[str, Any] | None:
    """Fields of a dataclass / simple class instance, or None when `value` is not one we
    should look into (functions, classes, torch internals, objects without a __dict__)."""
    if isinstance(value, _NOT_PLAIN_OBJECTS) or (callable(value) and not dataclasses.is_dataclass(value)):
        return None
    cls = type(value)
    if is_torch_class(cls) or cls.__module__ == "builtins":
        return None
    try:
        return dict(vars(value))
    except TypeError:
        return None


class _AttributeScan:
    """Follows one module attribute through containers, recording what it holds."""

    def __init__(self, scanner: _Scanner, owner: str, owner_type: str, attribute: str) -> None:
        self.scanner = scanner
        self.owner = owner
        self.owner_type = owner_type
        self.attribute = attribute
        self.visited: set[int] = set()
        self.nodes = 0

    def visit(self, value: Any, access: str, container: str | None, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES_PER_ATTRIBUTE or isinstance(value, _ATOMS):
            return
        if isinstance(value, torch.Tensor):
            self.scanner.held_tensor(self, value, access, container)
            return
        if isinstance(value, nn.Module):
            self.scanner.held_module(self, value, access, container)
            return
        if depth >= MAX_CONTAINER_DEPTH or id(value) in self.visited:
            return
        self.visited.add(id(value))
        if isinstance(value, tuple) and hasattr(type(value), "_fields"):  # namedtuple
            for fname, item in zip(type(value)._fields, value, strict=False):
                self.visit(item, f"{access}.{fname}", "object", depth + 1)
        elif isinstance(value, (list, tuple)):
            kind = "list" if isinstance(value, list) else "tuple"
            for i, item in enumerate(value):
                self.visit(item, f"{access}[{i}]", kind, depth + 1)
        elif isinstance(value, Mapping):
            try:
                items = list(value.items())
            except Exception:
                return
            for key, item in items:
                self.visit(item, f"{access}[{key}]", "dict", depth + 1)
        elif isinstance(value, (set, frozenset)):
            for i, item in enumerate(value):
                self.visit(item, f"{access}{{{i}}}", "set", depth + 1)
        else:
            fields = _plain_object_fields(value)
            for fname, item in (fields or {}).items():
                self.visit(item, f"{access}.{fname}", "object", depth + 1)


class _Scanner:
    """Second pass: plain attributes of every module (registered or found in containers)."""

    def __init__(self, builder: _Builder, registered_tensors: dict[int, tuple[str, str]]) -> None:
        self.builder = builder
        self.registered_tensors = registered_tensors  # id -> (name, kind)
        self.registered_modules = {k: v["path"] for k, v in builder.modules.items()}
        self.pending: list[tuple[nn.Module, str]] = []
        self.scanned: set[int] = set()

    def scan_module(self, module: nn.Module, path: str) -> None:
        if id(module) in self.scanned:
            return
        self.scanned.add(id(module))
        try:
            attributes = vars(module)
        except TypeError:
            return
        class_skips, skip_private = _class_skips(type(module))
        hook_managed = _hook_managed_names(module) if getattr(module, "_forward_pre_hooks", None) else ()
        owner_type = type_name(module)
        for attribute, value in list(attributes.items()):
            if (
                type(value) in _ATOM_TYPES  # most attributes: sizes, flags, names
                or attribute in class_skips
                or (skip_private and attribute.startswith("_"))
                or attribute in hook_managed
            ):
                continue
            _AttributeScan(self, path, owner_type, attribute).visit(value, "", None, 0)

    def held_tensor(self, scan: _AttributeScan, t: torch.Tensor, access: str, container: str | None) -> None:
        path = _join(scan.owner, scan.attribute) + access
        registered = self.registered_tensors.get(id(t))
        if registered is None:
            self.builder.add_tensor(t, path, UNREGISTERED, scan.owner, scan.owner_type, scan.attribute)
        record = self.builder.records[id(t)]
        self._reference(
            scan,
            access,
            container,
            target="tensor",
            name=record["name"],
            requires_grad=record["requires_grad"],
            is_parameter=record["is_parameter"],
            registered_as=registered[0] if registered else None,
            registered_kind=registered[1] if registered else None,
        )

    def held_module(self, scan: _AttributeScan, module: nn.Module, access: str, container: str | None) -> None:
        path = _join(scan.owner, scan.attribute) + access
        registered_path = self.registered_modules.get(id(module))
        if registered_path is None:
            self._walk_unregistered_module(module, path)
        self._reference(
            scan,
            access,
            container,
            target="module",
            name=self.builder.modules[id(module)]["path"],
            registered_as=registered_path,
            registered_kind="module" if registered_path is not None else None,
        )

    def _reference(self, scan: _AttributeScan, access: str, container: str | None, **target: Any) -> None:
        self.builder.references.append(
            HeldReference(
                module=scan.owner,
                module_type=scan.owner_type,
                attribute=scan.attribute,
                access=access,
                container=container,
                **target,
            )
        )

    def _walk_unregistered_module(self, module: nn.Module, path: str) -> None:
        """A module only reachable through a plain attribute: its tensors are unregistered."""
        sub = _Builder()
        _walk_registered(sub, module)
        for key, fields in sub.modules.items():
            mod = sub.module_objects[key]
            sub_path = _join(path, fields["path"]) if fields["path"] else path
            if id(mod) in self.registered_modules:
                continue
            if self.builder.add_module(mod, sub_path, registered=False):
                self.pending.append((mod, sub_path))
            for alias in fields["aliases"]:
                self.builder.add_module(mod, _join(path, alias), registered=False)
        for key in sub.order:
            t = sub.tensor_objects[key]
            if key in self.registered_tensors:
                continue
            fields = sub.records[key]
            module_path = _join(path, fields["module"]) if fields["module"] else path
            name = _join(path, fields["name"])
            self.builder.add_tensor(t, name, UNREGISTERED, module_path, fields["module_type"], fields["attribute"])
            record = self.builder.records[id(t)]
            for alias in fields["aliases"]:
                full = _join(path, alias)
                if full != record["name"] and full not in record["aliases"]:
                    record["aliases"].append(full)

    def run(self) -> None:
        for key, fields in list(self.builder.modules.items()):
            self.scan_module(self.builder.module_objects[key], fields["path"])
        while self.pending:
            module, path = self.pending.pop(0)
            self.scan_module(module, path)


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


def _add_packed(builder: _Builder) -> None:
    """Quantized modules keep weights in packed ScriptObjects that are neither parameters
    nor buffers; record what their state_dict() would save, so they are not invisible."""
    for key, fields in list(builder.modules.items()):
        module = builder.module_objects[key]
        if isinstance(module, torch.jit.ScriptModule):
            continue  # its `_c` is a ScriptObject too, but its tensors are registered ones
        if "quantized" not in (type(module).__module__ or ""):
            continue  # packed ScriptObjects belong to torch.ao's quantized modules
        attributes = vars(module)
        if not any(isinstance(v, torch.ScriptObject) for v in attributes.values()):
            continue
        saved: dict[str, Any] = {}
        try:
            module._save_to_state_dict(saved, "", keep_vars=True)
        except Exception:
            continue  # shown without its packed state rather than failing the whole inventory
        registered = set(attributes.get("_parameters", {}).keys()) | set(attributes.get("_buffers", {}).keys())
        for name, value in saved.items():
            if name in registered:
                continue
            path = fields["path"]
            for access, t in _packed_tensors(value, ""):
                builder.add_tensor(t, _join(path, name) + access, PACKED, path, fields["type"], name)


def _registered_child(model: nn.Module, name: str) -> Any:
    """A registered child read from `_modules` directly: never runs properties or __getattr__."""
    try:
        return vars(model)["_modules"][name]
    except Exception:
        return None


def unwrap(model: Any) -> tuple[nn.Module, list[str]]:
    """The module whose names users expect: torch.compile and DataParallel/DDP wrappers are
    looked through (with a note), so names carry no `_orig_mod.` / `module.` prefix."""
    notes: list[str] = []
    seen: set[int] = set()
    while id(model) not in seen:
        seen.add(id(model))
        inner = _registered_child(model, "_orig_mod")
        if isinstance(inner, nn.Module) and type(model).__name__ == "OptimizedModule":
            notes.append("compiled with torch.compile: showing the original module")
            model = inner
            continue
        inner = _registered_child(model, "module")
        if isinstance(inner, nn.Module) and type(model).__name__ in (
            "DataParallel",
            "DistributedDataParallel",
            "FullyShardedDataParallel",
        ):
            notes.append(f"wrapped in {type(model).__name__}: showing the wrapped module")
            model = inner
            continue
    return model, notes


def _freeze_records(builder: _Builder) -> tuple[TensorRecord, ...]:
    out = []
    for key in builder.order:
        fields = builder.records[key]
        out.append(TensorRecord(**{**fields, "aliases": tuple(fields["aliases"])}))
    return tuple(out)


def _totals(records: tuple[TensorRecord, ...]) -> Totals:
    params = trainable = buffers = unregistered = stored = packed = total_bytes = uninitialized = 0
    by_dtype: dict[str, list[int]] = {}
    by_device: dict[str, list[int]] = {}
    for r in records:
        numel = r.numel or 0
        nbytes = r.nbytes or 0
        if r.uninitialized:
            uninitialized += 1
        if r.kind == PARAMETER:
            params += numel
            if r.requires_grad:
                trainable += numel
        elif r.kind == BUFFER:
            buffers += numel
        elif r.kind == STORED:
            stored += numel
        elif r.kind == PACKED:
            packed += numel
        else:
            unregistered += numel
        total_bytes += nbytes
        for table, key in ((by_dtype, r.dtype), (by_device, r.device)):
            row = table.setdefault(key, [0, 0, 0])
            row[0] += 1
            row[1] += numel
            row[2] += nbytes

    def freeze(table: dict[str, list[int]]) -> dict[str, Breakdown]:
        return {k: Breakdown(*v) for k, v in sorted(table.items(), key=lambda kv: -kv[1][2])}

    return Totals(
        parameters=params,
        trainable=trainable,
        frozen=params - trainable,
        buffers=buffers,
        unregistered=unregistered,
        bytes=total_bytes,
        tensors=len(records),
        uninitialized=uninitialized,
        by_dtype=freeze(by_dtype),
        by_device=freeze(by_device),
        stored=stored,
        packed=packed,
    )


def build_inventory(model: nn.Module) -> Inventory:
    """Every tensor the module tree holds, each with exactly one kind."""
    # The walk allocates a few objects per tensor and creates no cycles; with tens of
    # thousands of modules alive, the cyclic collector's passes would cost more than the walk.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_inventory(model)
    finally:
        if collecting:
            gc.enable()


def _build_inventory(model: nn.Module) -> Inventory:
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    builder = _Builder()
    _walk_registered(builder, model)
    _add_packed(builder)
    registered = {key: (fields["name"], fields["kind"]) for key, fields in builder.records.items()}
    _Scanner(builder, registered).run()
    records = _freeze_records(builder)
    modules = tuple(
        ModuleRecord(
            path=f["path"],
            type=f["type"],
            qualified_type=f["qualified_type"],
            registered=f["registered"],
            aliases=tuple(f["aliases"]),
        )
        for f in builder.modules.values()
    )
    return Inventory(
        tensors=records,
        modules=modules,
        references=tuple(builder.references),
        totals=_totals(records),
        root_type=type_name(model),
        module_classes=dict(builder.module_classes),
    )


def inventory_from_records(records: list[TensorRecord], root_type: str) -> Inventory:
    """An inventory of tensors that no module holds (a checkpoint file): every dotted prefix
    of a name becomes a module path, of unknown type, so --depth views work."""
    paths: dict[str, None] = {"": None}
    for r in records:
        parts = r.module.split(".") if r.module else []
        for level in range(1, len(parts) + 1):
            paths.setdefault(".".join(parts[:level]), None)
    modules = tuple(ModuleRecord(path=p, type="", qualified_type="", registered=True) for p in paths)
    frozen = tuple(records)
    return Inventory(tensors=frozen, modules=modules, references=(), totals=_totals(frozen), root_type=root_type)


def tensor_facts(t: torch.Tensor) -> dict[str, Any]:
    """requires_grad, dtype, device, layout, shape, numel, nbytes... of a tensor, from its
    metadata only (see TensorRecord)."""
    return _tensor_facts(t)


def module_summary(inv: Inventory, max_depth: int) -> list[ModuleSummaryRow]:
    """Per-module aggregate of registered parameters (tied counted once, at their first
    name), for registered modules down to `max_depth` levels below the root. A checkpoint's
    stored tensors count as its parameters: the file does not say which are buffers."""
    totals: dict[str, list[int]] = {}
    for r in inv.tensors:
        if r.kind not in (PARAMETER, STORED) or r.numel is None:
            continue
        parts = r.module.split(".") if r.module else []
        for level in range(0, min(len(parts), max_depth) + 1):
            key = ".".join(parts[:level])
            row = totals.setdefault(key, [0, 0])
            row[0] += r.numel
            if r.requires_grad:
                row[1] += r.numel
    grand = (inv.totals.parameters + inv.totals.stored) or 1
    rows = []
    for m in inv.modules:
        if not m.registered:
            continue
        depth = 0 if not m.path else m.path.count(".") + 1
        if depth > max_depth:
            continue
        count, trainable = totals.get(m.path, (0, 0))
        rows.append(ModuleSummaryRow(m.path, m.type, depth, count, trainable, count / grand))
    return rows
