"""Strange but real modules: each inspects correctly, and `show` never crashes on it.

Expected names and counts come from torch itself (named_parameters/named_buffers), never
from hard-coded lists."""

from __future__ import annotations

import json
import sys
import warnings

import pytest
import torch
from conftest import ROOT
from torch import nn

from paraminspect.tensors.records import PACKED
from paraminspect.tensors.totals import module_summary
from paraminspect.tensors.walk import build_inventory
from paraminspect.tensors.wrappers import unwrap

sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
import edge_models

EDGE_FILE = ROOT / "tests" / "fixtures" / "edge_models.py"


def inventory_of(model):
    inner, notes = unwrap(model)
    return build_inventory(inner), notes


def names(inv, *kinds):
    return {r.name for r in inv.tensors if not kinds or r.kind in kinds}


def all_names(inv, *kinds):
    """Every name incl. aliases."""
    return {n for r in inv.tensors if not kinds or r.kind in kinds for n in (r.name, *r.aliases)}


def torch_names(model):
    params = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    buffers = {n for n, _ in model.named_buffers(remove_duplicate=False)}
    return params, buffers


def assert_matches_torch(inv, model):
    params, buffers = torch_names(model)
    assert all_names(inv, "parameter") == params
    assert all_names(inv, "buffer") == buffers
    assert names(inv, "unregistered") == set()


def show_json(cli, attr: str) -> dict:
    result = cli("show", f"{EDGE_FILE}:{attr}", "--format", "json")
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return json.loads(result.out)


@pytest.mark.parametrize(
    "attr",
    [
        "lazy",
        "parametrized",
        "compiled",
        "data_parallel",
        "scripted",
        "quantized",
        "exotic_tensors",
        "no_parameters",
        "raising",
        "deep",
        "cyclic",
        "shared",
    ],
)
def test_show_never_crashes(cli, attr):
    for fmt in ("table", "json"):
        result = cli("show", f"{EDGE_FILE}:{attr}", "--format", fmt)
        assert result.code == 0, (fmt, result.err)
        assert not any(line.startswith("error") for line in result.err.splitlines()), fmt
        assert "Traceback" not in result.err and result.out.strip(), fmt
    assert cli("show", f"{EDGE_FILE}:{attr}", "--depth", "2").code == 0


def test_lazy_modules_before_first_forward():
    model = edge_models.lazy()
    inv, _ = inventory_of(model)
    assert_matches_torch(inv, model)
    lazy = {
        n
        for n, p in [*model.named_parameters(), *model.named_buffers()]
        if isinstance(p, nn.parameter.UninitializedTensorMixin)
    }
    assert {r.name for r in inv.tensors if r.uninitialized} == lazy
    assert all(r.shape is None and r.numel is None and r.nbytes is None for r in inv.tensors if r.uninitialized)
    assert inv.totals.uninitialized == len(lazy)
    # after a forward the same walker sees real shapes
    materialized = nn.Sequential(nn.LazyLinear(8))
    materialized(torch.zeros(2, 5))
    (w, b) = build_inventory(materialized).tensors
    assert (w.shape, b.shape, w.uninitialized) == ((8, 5), (8,), False)


def test_parametrize_weight_norm_spectral_norm():
    model = edge_models.parametrized()
    inv, _ = inventory_of(model)
    assert_matches_torch(inv, model)
    assert "orth.parametrizations.weight.original" in names(inv, "parameter")
    # old-style weight_norm/spectral_norm recompute `weight` as a plain attribute before each
    # forward: derived state, not an unregistered tensor
    assert "old_wn.weight" not in all_names(inv) and "old_sn.weight" not in all_names(inv)


def test_torch_compile_shows_original_names(cli):
    inner = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    compiled = torch.compile(inner)  # lazy: nothing is compiled until the first forward
    inv, notes = inventory_of(compiled)
    assert_matches_torch(inv, inner)
    assert not any(n.startswith("_orig_mod") for n in all_names(inv))
    assert any("torch.compile" in n for n in notes)
    doc = show_json(cli, "compiled")
    assert any("compiled" in n for n in doc["notes"])
    assert {t["name"] for t in doc["tensors"]} == {n for n, _ in inner.named_parameters()}


def test_data_parallel_wrapper():
    inner = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    inv, notes = inventory_of(nn.DataParallel(inner))
    assert_matches_torch(inv, inner)
    assert any("DataParallel" in n for n in notes)


def test_distributed_data_parallel_wrapper(tmp_path):
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("no gloo backend")
    dist.init_process_group("gloo", store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)
    try:
        inner = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
        ddp = nn.parallel.DistributedDataParallel(inner)
        inv, notes = inventory_of(ddp)
    finally:
        dist.destroy_process_group()
    assert_matches_torch(inv, inner)
    assert any("DistributedDataParallel" in n for n in notes)
    assert not any(n.startswith("module.") for n in all_names(inv))


def test_torch_jit_script_module():
    model = edge_models.scripted()
    inv, _ = inventory_of(model)
    assert_matches_torch(inv, model)
    # the original class names, not RecursiveScriptModule
    assert {m.type for m in inv.modules} == {"Sequential", "Linear", "BatchNorm1d"}
    assert inv.root_type == "Sequential"


def test_quantized_modules_show_their_packed_weights():
    model = edge_models.quantized()
    inv, _ = inventory_of(model)
    assert_matches_torch(inv, model)  # registered tensors exactly as torch sees them
    packed = {r.name: r for r in inv.tensors if r.kind == PACKED}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module_name in ("fc", "conv", "dyn_fc"):
            weight = getattr(model, module_name).weight()
            (record,) = [r for n, r in packed.items() if n.startswith(module_name + ".") and r.dtype == "qint8"]
            assert record.shape == tuple(weight.shape)
    assert any(n.startswith("dyn_lstm.") for n in packed)  # nested packed RNN cells are unpacked too
    assert inv.totals.packed == sum(r.numel for r in packed.values())
    assert all(not r.requires_grad for r in packed.values())


def test_tensor_subclasses_complex_zero_size_sparse():
    model = edge_models.exotic_tensors()
    inv, _ = inventory_of(model)
    assert_matches_torch(inv, model)
    rec = {r.name: r for r in inv.tensors}
    assert rec["tagged"].tensor_type == "Tagged" and rec["tagged_buf"].tensor_type == "Tagged"
    for name in ("cplx", "cplx128", "empty", "empty_buf", "tagged"):
        t = model.get_parameter(name) if name in dict(model.named_parameters()) else model.get_buffer(name)
        assert rec[name].dtype == str(t.dtype).removeprefix("torch.")
        assert rec[name].shape == tuple(t.shape)
        assert rec[name].nbytes == t.numel() * t.element_size()
    assert rec["empty"].nbytes == 0 and rec["empty"].numel == 0
    coo = model.coo
    assert rec["coo"].layout == "sparse_coo"
    assert rec["coo"].nbytes == sum(x.numel() * x.element_size() for x in (coo._values(), coo._indices()))
    csr = model.csr
    assert rec["csr"].layout == "sparse_csr"
    assert rec["csr"].nbytes == sum(
        x.numel() * x.element_size() for x in (csr.values(), csr.crow_indices(), csr.col_indices())
    )


def test_wrapper_tensor_subclass_parameter():
    two_tensor = pytest.importorskip("torch.testing._internal.two_tensor")
    model = nn.Module()
    model.p = nn.Parameter(two_tensor.TwoTensor(torch.zeros(3), torch.ones(3)))
    model.register_buffer("b", two_tensor.TwoTensor(torch.zeros(2), torch.ones(2)))
    inv = build_inventory(model)
    assert_matches_torch(inv, model)
    assert {r.tensor_type for r in inv.tensors} == {"TwoTensor"}


def test_module_without_parameters():
    inv, _ = inventory_of(edge_models.no_parameters())
    assert inv.tensors == () and inv.totals.tensors == 0 and inv.totals.parameters == 0
    assert [r.parameters for r in module_summary(inv, 1)] == [0, 0, 0, 0]


def test_child_holding_its_parent():
    model = edge_models.cyclic()
    inv, _ = inventory_of(model)
    # torch itself only survives the registered cycle with its memo (remove_duplicate=True)
    params = {n for n, _ in model.named_parameters()}
    assert names(inv, "parameter") == params and len(params) == 4
    assert names(inv, "unregistered") == set()
    assert {r.registered_as for r in inv.references if r.target == "module"} == {""}


def test_property_and_getattr_that_raise():
    model = edge_models.raising()
    with pytest.raises(RuntimeError):
        _ = model.broken
    with pytest.raises(RuntimeError):
        _ = model._orig_mod  # what a careless unwrap would touch
    inv, notes = inventory_of(model)
    assert_matches_torch(inv, model)
    assert notes == []


def test_very_deep_nesting():
    levels = 250
    model = edge_models.deep(levels)
    inv, _ = inventory_of(model)
    assert_matches_torch(inv, model)
    (weight, _bias) = inv.tensors
    assert weight.name.count(".") == levels + 1
    rows = module_summary(inv, levels + 5)
    assert len(rows) == levels + 2 and rows[0].parameters == 6


def test_fifty_thousand_tensors():
    # Registered straight into _parameters/_buffers: building 50,000 tensors stays fast.
    root = nn.Module()
    per_child, children = 500, 50
    for c in range(children):
        child = nn.Module()
        child._parameters.update({f"w{i}": nn.Parameter(torch.empty(2, device="meta")) for i in range(per_child)})
        child._buffers.update({f"b{i}": torch.empty(1, device="meta") for i in range(per_child)})
        root.add_module(f"c{c}", child)
    inv = build_inventory(root)
    assert len(inv.tensors) == 50_000
    assert_matches_torch(inv, root)
    assert inv.totals.parameters == 2 * per_child * children


def test_shared_submodule_and_parameter_under_two_names():
    model = edge_models.shared()
    inv, _ = inventory_of(model)
    assert_matches_torch(inv, model)
    rec = {r.name: r for r in inv.tensors}
    assert rec["encoder.weight"].aliases == ("decoder.weight",)
    assert rec["embed.weight"].aliases == ("head.weight",)
    assert inv.totals.parameters == sum(p.numel() for p in model.parameters())  # each tensor once
    assert next(m for m in inv.modules if m.path == "encoder").aliases == ("decoder",)
