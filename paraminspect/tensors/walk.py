"""nn.Module -> one frozen record per tensor reachable from the module tree.

Pure: no printing, no rich. Cost is O(number of tensors and attributes), never O(numel):
no tensor data is read, so meta tensors and 70B-parameter models cost the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from paraminspect.collector import collector_paused
from paraminspect.sources import overrides_apply
from paraminspect.tensors.applied import observe_apply
from paraminspect.tensors.facts import class_skips, hook_managed_names, tensor_facts, type_name
from paraminspect.tensors.packed import add_packed
from paraminspect.tensors.records import (
    BUFFER,
    MAX_NODES_PER_ATTRIBUTE,
    MAX_NODES_PER_MODEL,
    PARAMETER,
    UNREGISTERED,
    HeldReference,
    Inventory,
    ModuleRecord,
    TensorRecord,
    join_name,
    qualified_name,
)
from paraminspect.tensors.scan import ATOM_TYPES, AttributeScan
from paraminspect.tensors.sites import Site, forget_sites, recorded_sites, sites_of
from paraminspect.tensors.totals import compute_totals

_SMALL_TUPLE = 8  # a tuple of atoms this short is counted, not scanned
# module class -> (type_name, qualified_name, whether it overrides nn.Module._apply)
_CLASS_NAMES: dict[type, tuple[str, str, bool]] = {}


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
    recorded: dict[int, Any] = field(default_factory=recorded_sites)  # what the build recorded (tensors.sites)
    sites: dict[str, dict[str, Site]] = field(default_factory=dict)  # path -> attribute -> (file, line)
    uninitialised: list[str] = field(default_factory=list)  # modules nn.Module.__init__ never ran on
    overrides_apply: bool = False  # a module class has its own `_apply` (tensors.applied)

    def add_module(self, module: nn.Module, path: str, registered: bool) -> bool:
        """Record `module` at `path`; True when this is its first sighting."""
        key = id(module)
        if key in self.modules:
            if path not in self.modules[key]["aliases"] and path != self.modules[key]["path"]:
                self.modules[key]["aliases"].append(path)
            return False
        cls = type(module)
        names = _CLASS_NAMES.get(cls)
        if names is None:  # a scripted module names its original class: per module then
            names = (type_name(module), qualified_name(cls), overrides_apply(cls))
            if not isinstance(module, torch.jit.ScriptModule):
                _CLASS_NAMES[cls] = names
        if names[2]:
            self.overrides_apply = True
        self.modules[key] = {
            "path": path,
            "type": names[0],
            "qualified_type": names[1],
            "registered": registered,
            "aliases": [],
        }
        self.module_objects[key] = module
        self.module_classes[path] = cls
        if self.recorded:
            sites = sites_of(module)
            if sites:
                self.sites[path] = sites
        if "_parameters" not in module.__dict__:
            self.uninitialised.append(path)
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
        fields = tensor_facts(t)
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


class _Scanner:
    """Second pass: plain attributes of every module (registered or found in containers)."""

    def __init__(self, builder: _Builder, registered_tensors: dict[int, tuple[str, str]]) -> None:
        self.builder = builder
        self.registered_tensors = registered_tensors  # id -> (name, kind)
        self.registered_modules = {k: v["path"] for k, v in builder.modules.items()}
        self.pending: list[tuple[nn.Module, str]] = []
        self.scanned: set[int] = set()
        self.nodes_left = MAX_NODES_PER_MODEL
        self.notes: list[str] = []

    def stopped(self, scan: AttributeScan) -> None:
        """A budget ran out: say so (a silent stop could hide a tensor from the rules)."""
        where = join_name(scan.owner, scan.attribute)
        if self.nodes_left <= 0:
            if not any(n.startswith("stopped following") for n in self.notes):
                self.notes.append(
                    f"stopped following plain attributes after {MAX_NODES_PER_MODEL:,} values (at {where}): "
                    "tensors held deeper in containers may be missing"
                )
        else:
            self.notes.append(
                f"{where} holds more than {MAX_NODES_PER_ATTRIBUTE:,} values in containers: "
                "only the first were searched for tensors"
            )

    def scan_module(self, module: nn.Module, path: str, owner_type: str) -> None:
        if id(module) in self.scanned:
            return
        self.scanned.add(id(module))
        try:
            attributes = vars(module)
        except TypeError:
            return
        skipped_names, skip_private = class_skips(type(module))
        hook_managed = hook_managed_names(module) if getattr(module, "_forward_pre_hooks", None) else ()
        atoms = ATOM_TYPES
        for attribute, value in list(attributes.items()):
            if (
                attribute in skipped_names  # nn.Module's own bookkeeping: most of the names
                or type(value) in atoms  # sizes, flags, names
                or (skip_private and attribute[:1] == "_")
                or attribute in hook_managed
            ):
                continue
            if (  # kernel_size=(3, 3): the scan would only count its nodes
                type(value) is tuple
                and len(value) <= _SMALL_TUPLE
                and self.nodes_left > _SMALL_TUPLE
                and all(type(item) in atoms for item in value)
            ):
                self.nodes_left -= 1 + len(value)
                continue
            AttributeScan(self, path, owner_type, attribute).run(value)

    def held_tensor(
        self, scan: AttributeScan, t: torch.Tensor, access: str, container: str | None, holder: Any, key: Any
    ) -> None:
        path = join_name(scan.owner, scan.attribute) + access
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

    def held_module(self, scan: AttributeScan, module: nn.Module, access: str, container: str | None) -> None:
        path = join_name(scan.owner, scan.attribute) + access
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

    def _reference(self, scan: AttributeScan, access: str, container: str | None, **target: Any) -> None:
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
            sub_path = join_name(path, fields["path"]) if fields["path"] else path
            if id(mod) in self.registered_modules:
                continue
            if self.builder.add_module(mod, sub_path, registered=False):
                self.pending.append((mod, sub_path))
            for alias in fields["aliases"]:
                self.builder.add_module(mod, join_name(path, alias), registered=False)
        for key in sub.order:
            t = sub.tensor_objects[key]
            if key in self.registered_tensors:
                continue
            fields = sub.records[key]
            module_path = join_name(path, fields["module"]) if fields["module"] else path
            name = join_name(path, fields["name"])
            self.builder.add_tensor(t, name, UNREGISTERED, module_path, fields["module_type"], fields["attribute"])
            record = self.builder.records[id(t)]
            for alias in fields["aliases"]:
                full = join_name(path, alias)
                if full != record["name"] and full not in record["aliases"]:
                    record["aliases"].append(full)

    def run(self) -> None:
        modules = self.builder.modules
        for key, fields in list(modules.items()):
            self.scan_module(self.builder.module_objects[key], fields["path"], fields["type"])
        while self.pending:
            module, path = self.pending.pop(0)
            self.scan_module(module, path, modules[id(module)]["type"])


def _freeze_records(builder: _Builder) -> tuple[TensorRecord, ...]:
    out = []
    for key in builder.order:
        fields = builder.records[key]
        out.append(TensorRecord(**{**fields, "aliases": tuple(fields["aliases"])}))
    return tuple(out)


def build_inventory(model: nn.Module) -> Inventory:
    """Every tensor the module tree holds, each with exactly one kind."""
    with collector_paused():  # a few objects per tensor, no cycles (paraminspect.collector)
        try:
            return _build_inventory(model)
        finally:
            forget_sites()  # read: the recorder need not hold the build's modules any longer


def _build_inventory(model: nn.Module) -> Inventory:
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    builder = _Builder()
    _walk_registered(builder, model)
    add_packed(builder)
    registered = {key: (fields["name"], fields["kind"]) for key, fields in builder.records.items()}
    scanner = _Scanner(builder, registered)
    scanner.run()
    moved = None
    if builder.overrides_apply:
        paths = {fields["path"]: builder.module_objects[key] for key, fields in builder.modules.items()}
        refs = builder.references
        plain = [(r.module, r.attribute) for r in refs if r.target == "tensor" and r.registered_as is None]
        moved = observe_apply(model, paths, plain, {key: builder.tensor_objects[key] for key in registered})
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
        totals=compute_totals(records),
        root_type=type_name(model),
        module_classes=dict(builder.module_classes),
        notes=tuple(scanner.notes) + tuple(_uninitialised_notes(builder)),
        assignment_sites=builder.sites,
        uninitialised=tuple(builder.uninitialised),
        moved_by_apply=moved,
    )


def _uninitialised_notes(builder: _Builder) -> Iterator[str]:
    """What `show` says of a module nn.Module.__init__ never ran on (check reports PI014)."""
    for path in builder.uninitialised:
        name = builder.module_classes[path].__name__
        where = f"`{path}` ({name})" if path else f"the model ({name})"
        yield (
            f"{where} never called nn.Module.__init__(): parameters(), state_dict() and .to() raise "
            "on it, so nothing it holds is registered"
        )
