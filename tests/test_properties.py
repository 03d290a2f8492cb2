"""Property tests: random module trees (nesting, ModuleList/Dict, Sequential, ParameterList/
Dict, buffers, tied parameters, shared modules) with unregistered tensors and modules planted
at random places. The inventory must agree with torch on what is registered, find every
planted tensor exactly once, and `check` must flag exactly the planted problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from paraminspect.tensors.walk import build_inventory

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SHAPES = st.lists(st.integers(0, 3), min_size=0, max_size=2).map(tuple)


class Holder:
    """A plain object holding a tensor (as configs and caches do)."""

    def __init__(self, tensor: torch.Tensor):
        self.w = tensor


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@dataclass
class Plan:
    """What a generated model holds beyond its registered tensors."""

    model: nn.Module = None  # type: ignore[assignment]
    # id(tensor) -> every name under which the tensor was planted (it must be ONE record)
    planted: dict[int, set[str]] = field(default_factory=dict)
    keep: list[Any] = field(default_factory=list)  # keeps planted objects (and their ids) alive
    # (code, owning module path, attribute) the registration rules must report
    problems: set[tuple[str, str, str]] = field(default_factory=set)

    def plant(self, t: torch.Tensor, name: str) -> None:
        self.planted.setdefault(id(t), set()).add(name)
        self.keep.append(t)


@st.composite
def models(draw, max_depth: int = 3, plant: bool = True) -> Plan:
    plan = Plan()
    params: list[nn.Parameter] = []  # registered, for tying
    leaves: list[nn.Module] = []  # finished leaf modules, for sharing under a second name
    loose: list[torch.Tensor] = []  # planted tensors, for planting again elsewhere

    def tensor(requires_grad: bool = False) -> torch.Tensor:
        return torch.zeros(draw(SHAPES), requires_grad=requires_grad)

    def parameter() -> nn.Parameter:
        p = nn.Parameter(tensor(), requires_grad=draw(st.booleans()))
        params.append(p)
        return p

    def leaf() -> nn.Module:
        m = nn.Linear(2, 2, bias=draw(st.booleans()))
        leaves.append(m)
        return m

    def plant_into(m: nn.Module, path: str, i: int) -> None:
        what = draw(st.sampled_from(["plain", "list", "tuple", "dict", "nested", "object", "modules", "again"]))
        attr = f"x{i}"
        if what == "plain":
            t = tensor(requires_grad=draw(st.booleans()))
            setattr(m, attr, t)
            plan.plant(t, _join(path, attr))
            plan.problems.add(("PI001" if t.requires_grad else "PI002", path, attr))
            loose.append(t)
            return
        if what == "modules":
            inner = [nn.Linear(2, 2) for _ in range(draw(st.integers(1, 2)))]
            as_dict = draw(st.booleans())
            container: Any = {f"m{k}": v for k, v in enumerate(inner)} if as_dict else list(inner)
            setattr(m, attr, container)
            for k, sub in enumerate(inner):
                access = f"[m{k}]" if as_dict else f"[{k}]"
                for pname, p in sub.named_parameters():
                    plan.plant(p, f"{_join(path, attr)}{access}.{pname}")
            plan.keep.append(container)
            plan.problems.add(("PI004", path, attr))
            return
        if what == "again" and loose:
            t = draw(st.sampled_from(loose))
            setattr(m, attr, [t])
            plan.plant(t, f"{_join(path, attr)}[0]")
            plan.problems.add(("PI003", path, attr))
            return
        # tensors and fresh Parameters in Python containers / plain objects
        items = [
            nn.Parameter(tensor()) if draw(st.booleans()) else tensor(draw(st.booleans()))
            for _ in range(draw(st.integers(1, 2)))
        ]
        if what in ("list", "again"):
            value, accesses = list(items), [f"[{k}]" for k in range(len(items))]
        elif what == "tuple":
            value, accesses = tuple(items), [f"[{k}]" for k in range(len(items))]
        elif what == "dict":
            value, accesses = {f"k{k}": t for k, t in enumerate(items)}, [f"[k{k}]" for k in range(len(items))]
        elif what == "nested":
            value, accesses = {"deep": [list(items)]}, [f"[deep][0][{k}]" for k in range(len(items))]
        else:
            value, accesses = [Holder(t) for t in items], [f"[{k}].w" for k in range(len(items))]
        setattr(m, attr, value)
        plan.keep.append(value)
        for t, access in zip(items, accesses, strict=True):
            plan.plant(t, _join(path, attr) + access)
            loose.append(t)
        plan.problems.add(("PI003", path, attr))

    def build(path: str, depth: int) -> nn.Module:
        m = nn.Module()
        for i in range(draw(st.integers(0, 2))):
            setattr(m, f"p{i}", parameter())
        for i in range(draw(st.integers(0, 2))):
            m.register_buffer(f"b{i}", tensor(), persistent=draw(st.booleans()))
        if params and draw(st.integers(0, 3)) == 0:
            m.tied = draw(st.sampled_from(params))  # one Parameter under a second name
        for j in range(draw(st.integers(0, 3 if depth < max_depth else 1))):
            kind = draw(st.sampled_from(["attr", "leaf", "shared", "list", "dict", "seq", "plist", "pdict"]))
            name = f"c{j}"
            if kind == "attr" and depth < max_depth:
                setattr(m, name, build(_join(path, name), depth + 1))
            elif kind == "shared" and leaves:
                setattr(m, name, draw(st.sampled_from(leaves)))  # one module under a second name
            elif kind in ("list", "seq") and depth < max_depth:
                n = draw(st.integers(0, 2))
                children = [build(_join(path, f"{name}.{k}"), depth + 1) for k in range(n)]
                setattr(m, name, nn.ModuleList(children) if kind == "list" else nn.Sequential(*children))
            elif kind == "dict" and depth < max_depth:
                keys = draw(st.lists(st.sampled_from(["a", "b", "enc", "dec"]), max_size=2, unique=True))
                setattr(m, name, nn.ModuleDict({k: build(_join(path, f"{name}.{k}"), depth + 1) for k in keys}))
            elif kind == "plist":
                setattr(m, name, nn.ParameterList([parameter() for _ in range(draw(st.integers(0, 2)))]))
            elif kind == "pdict":
                setattr(m, name, nn.ParameterDict({f"q{k}": parameter() for k in range(draw(st.integers(0, 2)))}))
            else:
                setattr(m, name, leaf())
        if plant:
            for i in range(draw(st.integers(0, 2))):
                plant_into(m, path, i)
        return m

    plan.model = build("", 0)
    return plan


def _names(records) -> set[str]:
    return {n for r in records for n in (r.name, *r.aliases)}


@SETTINGS
@given(models())
def test_inventory_agrees_with_torch_and_finds_every_planted_tensor(plan):
    model = plan.model
    inv = build_inventory(model)

    params = [r for r in inv.tensors if r.kind == "parameter"]
    buffers = [r for r in inv.tensors if r.kind == "buffer"]
    assert _names(params) == {n for n, _ in model.named_parameters(remove_duplicate=False)}
    assert len(params) == len(list(model.parameters()))  # tied / shared: one record each
    assert _names(buffers) == {n for n, _ in model.named_buffers(remove_duplicate=False)}
    assert len(buffers) == len(list(model.buffers()))
    assert inv.totals.parameters == sum(p.numel() for p in model.parameters())

    unregistered = [r for r in inv.tensors if r.kind == "unregistered"]
    assert len(unregistered) == len(plan.planted)  # each planted tensor exactly once
    by_names = {frozenset((r.name, *r.aliases)): r for r in unregistered}
    assert set(by_names) == {frozenset(names) for names in plan.planted.values()}


@SETTINGS
@given(models(plant=False))
def test_clean_trees_have_no_unregistered_tensors(plan):
    inv = build_inventory(plan.model)
    assert [r for r in inv.tensors if r.kind == "unregistered"] == []
    assert [r for r in inv.references if r.registered_as is None] == []


@SETTINGS
@given(models())
def test_check_flags_exactly_the_planted_problems(plan):
    pytest.importorskip("paraminspect.checks.unregistered")
    import paraminspect

    findings = paraminspect.check(plan.model)
    flagged = {(f.code, f.module, f.attribute) for f in findings if f.code in ("PI001", "PI002", "PI003", "PI004")}
    assert flagged == plan.problems
