from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from paraminspect.tensors.totals import module_summary
from paraminspect.tensors.walk import build_inventory
from paraminspect.tensors.wrappers import unwrap


def kinds(inv):
    return {r.name: r.kind for r in inv.tensors}


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.register_buffer("stat", torch.zeros(2))
        self.plain = torch.ones(3)
        self.grad_plain = torch.ones(3, requires_grad=True)
        self.tensor_list = [torch.ones(1), torch.ones(2)]
        self.param_dict = {"a": nn.Parameter(torch.ones(4))}
        self.module_list = [nn.Linear(3, 3)]
        self.stale = [self.stat]
        self.alias_of_param = [self.fc.weight]
        self.numbers = [1, 2.0, "x"]


def test_every_kind_and_container_is_found():
    inv = build_inventory(Holder())
    k = kinds(inv)
    assert k["fc.weight"] == "parameter" and k["stat"] == "buffer"
    assert k["plain"] == "unregistered" and k["grad_plain"] == "unregistered"
    assert k["tensor_list[0]"] == "unregistered" and k["tensor_list[1]"] == "unregistered"
    assert k["param_dict[a]"] == "unregistered"
    # a module in a plain list is walked: its parameters are unregistered
    assert k["module_list[0].weight"] == "unregistered" and k["module_list[0].bias"] == "unregistered"
    # references to registered tensors are not new tensors
    assert len(inv.tensors) == 3 + 2 + 2 + 1 + 2
    refs = {(r.attribute, r.access): r for r in inv.references}
    assert refs[("stale", "[0]")].registered_as == "stat" and refs[("stale", "[0]")].registered_kind == "buffer"
    assert refs[("alias_of_param", "[0]")].registered_kind == "parameter"
    assert refs[("module_list", "[0]")].target == "module" and refs[("module_list", "[0]")].registered_as is None
    assert refs[("plain", "")].container is None
    assert refs[("tensor_list", "[1]")].container == "list"
    unregistered_modules = [m for m in inv.modules if not m.registered]
    assert [m.path for m in unregistered_modules] == ["module_list[0]"]
    assert inv.totals.unregistered == 3 + 3 + 1 + 2 + 4 + 9 + 3


@dataclass
class Config:
    table: torch.Tensor
    nested: dict


class Point(NamedTuple):
    x: torch.Tensor
    y: int


class Plain:
    def __init__(self):
        self.inner = torch.zeros(5)


def test_plain_objects_dataclasses_namedtuples_sets():
    m = nn.Module()
    m.cfg = Config(torch.zeros(2), {"deep": [torch.zeros(3)]})
    m.point = Point(torch.zeros(4), 1)
    m.obj = Plain()
    m.bag = {torch.zeros(6)}
    k = kinds(build_inventory(m))
    assert k == {
        "cfg.table": "unregistered",
        "cfg.nested[deep][0]": "unregistered",
        "point.x": "unregistered",
        "obj.inner": "unregistered",
        "bag{0}": "unregistered",
    }


def test_cycles_do_not_hang():
    parent = nn.Sequential(nn.Linear(2, 2))
    child = parent[0]
    child.back = [parent]  # child holds its parent through a list
    object.__setattr__(child, "parent", parent)  # and as a plain attribute
    lst = []
    lst.append(lst)
    child.selfref = lst
    inv = build_inventory(parent)
    assert kinds(inv) == {"0.weight": "parameter", "0.bias": "parameter"}
    assert {r.registered_as for r in inv.references if r.target == "module"} == {""}


def test_registered_cycle_and_deep_nesting():
    root = nn.Module()
    node = root
    for _ in range(300):
        nxt = nn.Module()
        node.child = nxt
        node = nxt
    node.weight = nn.Parameter(torch.zeros(1))
    node.loop = root  # registered cycle back to the root
    inv = build_inventory(root)
    (rec,) = inv.tensors
    assert rec.name.count("child") == 300 and rec.kind == "parameter"


def test_lstm_flat_weights_are_not_unregistered():
    inv = build_inventory(nn.LSTM(4, 8, num_layers=2))
    assert {r.kind for r in inv.tensors} == {"parameter"}
    assert inv.references == ()


def test_tied_and_shared_modules():
    shared = nn.Linear(2, 2)
    m = nn.Module()
    m.a = shared
    m.b = shared
    inv = build_inventory(m)
    assert [(r.name, r.aliases) for r in inv.tensors] == [("a.weight", ("b.weight",)), ("a.bias", ("b.bias",))]
    assert inv.totals.parameters == 6
    assert next(mr for mr in inv.modules if mr.path == "a").aliases == ("b",)


def test_lazy_modules_have_no_shape():
    inv = build_inventory(nn.Sequential(nn.LazyLinear(4), nn.LazyBatchNorm1d()))
    lazy = [r for r in inv.tensors if r.uninitialized]
    assert {r.name for r in lazy} >= {"0.weight", "0.bias", "1.weight", "1.running_mean"}
    assert all(r.shape is None and r.numel is None for r in lazy)
    assert inv.totals.uninitialized == len(lazy)


def test_weight_norm_and_parametrize_are_clean():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        wn = torch.nn.utils.weight_norm(nn.Linear(3, 3))
    inv = build_inventory(wn)
    assert {r.name for r in inv.tensors} == {"bias", "weight_g", "weight_v"}
    pm = torch.nn.utils.parametrizations.orthogonal(nn.Linear(3, 3))
    inv = build_inventory(pm)
    assert "unregistered" not in {r.kind for r in inv.tensors}
    assert "parametrizations.weight.original" in {r.name for r in inv.tensors}


def test_user_subclass_private_attribute_is_reported():
    class MyLSTM(nn.LSTM):
        def __init__(self):
            super().__init__(2, 2)
            self._cache = torch.zeros(2)

    k = kinds(build_inventory(MyLSTM()))
    assert k["_cache"] == "unregistered"
    assert all(v == "parameter" for n, v in k.items() if n != "_cache")


def test_module_summary_counts_tied_once():
    from sample_models.tied_embedding import build

    inv = build_inventory(build())
    rows = {r.path: r for r in module_summary(inv, 1)}
    assert rows[""].parameters == inv.totals.parameters == 1872
    assert rows["lm_head"].parameters == 0  # the tied weight is counted at its first name


def test_unwrap_dataparallel_wrapper():
    inner = nn.Linear(2, 2)
    model, notes = unwrap(nn.DataParallel(inner))
    assert model is inner and notes


def test_an_inventory_crosses_a_pickle_unchanged():
    """Records travel from a model's child process to the CLI by pickle (their own compact
    form): every record, module and reference comes back equal, with the inventory."""
    import pickle

    inv = build_inventory(Holder())
    inv = dataclasses.replace(inv, module_classes={})  # the CLI never receives user classes
    copy = pickle.loads(pickle.dumps(inv, protocol=pickle.HIGHEST_PROTOCOL))
    assert copy == inv
    assert copy.tensors and copy.references and copy.modules
    assert [type(r) for r in copy.tensors] == [type(r) for r in inv.tensors]
