"""PI011: a built-in layer's parameter whose shape (or presence) contradicts its configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import SAMPLES, sample
from torch import nn
from torch.nn.utils import parametrize

from paraminspect.checks import CheckContext, all_rules
from paraminspect.checks.module_config import _spec_for, check_shapes
from paraminspect.loaders.dispatch import load
from paraminspect.tensors.walk import build_inventory

HERE = Path(__file__).resolve()


def pi011(model: nn.Module):
    return check_shapes(CheckContext(build_inventory(model), model))


def line_of(path: Path, text: str) -> int:
    """1-based line of the first line containing `text` (so tests never hard-code line numbers)."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def replace(module: nn.Module, name: str, shape: tuple[int, ...]) -> None:
    """Swap a registered tensor for one of another shape, keeping its kind (parameter or buffer)."""
    old = getattr(module, name)
    new = torch.zeros(shape, dtype=old.dtype, device=old.device)
    setattr(module, name, nn.Parameter(new) if isinstance(old, nn.Parameter) else new)


# -- the tutorial ---------------------------------------------------------------------------------------


def test_nn_network_flags_both_linear_layers_at_the_assignment_lines():
    from sample_models.nn_network import build

    findings = pi011(build())
    got = {(f.module, f.attribute): f for f in findings}
    assert set(got) == {("linear1", "weight"), ("linear2", "weight"), ("linear2", "bias")}
    source = SAMPLES / "nn_network.py"
    for path, in_dim, out_dim in (("linear1", 5, 2), ("linear2", 2, 3)):
        f = got[(path, "weight")]
        expected = tuple(nn.Linear(in_dim, out_dim).weight.shape)
        found = tuple(torch.zeros(5, 2).shape)  # zeros(in_dim, hid), as in the tutorial
        assert f.code == "PI011" and f.severity == "error"
        assert f.names == (f"{path}.weight",)
        assert f"has shape {found}, expected {expected} = (out_features, in_features)" in f.message
        assert f"nn.Linear(in_features={in_dim}, out_features={out_dim})" in f.message
        assert f.file == str(source)
        assert f.line == line_of(source, f"self.{path}.weight =")
    bias = got[("linear2", "bias")]
    assert f"has shape (2,), expected {tuple(nn.Linear(2, 3).bias.shape)}" in bias.message
    assert bias.line == line_of(source, "self.linear2.bias =")


def test_nn_network_fails_at_forward_and_the_fixed_one_is_clean_and_runs():
    from sample_models.nn_network import build as buggy
    from sample_models.nn_network_fixed import build as fixed

    x = torch.randn(4, 5)
    with pytest.raises(RuntimeError):
        buggy()(x)
    model = fixed()
    assert model(x).shape == (4, 3)
    assert pi011(model) == []


# -- one wrong shape per family, and its untouched twin ---------------------------------------------------

CASES = [
    ("linear-weight", lambda: nn.Linear(4, 3), "weight", (4, 3)),
    ("linear-bias", lambda: nn.Linear(4, 3), "bias", (4,)),
    ("bilinear", lambda: nn.Bilinear(2, 3, 4), "weight", (4, 3, 2)),
    ("conv1d-groups", lambda: nn.Conv1d(4, 6, 3, groups=2), "weight", (6, 4, 3)),
    ("conv2d-kernel", lambda: nn.Conv2d(4, 6, (3, 5)), "weight", (6, 4, 5, 3)),
    ("conv3d-bias", lambda: nn.Conv3d(2, 4, 3), "bias", (2,)),
    ("convtranspose1d", lambda: nn.ConvTranspose1d(4, 6, 3, groups=2), "weight", (6, 2, 3)),
    ("convtranspose2d", lambda: nn.ConvTranspose2d(4, 6, 3), "weight", (6, 4, 3, 3)),
    ("convtranspose3d", lambda: nn.ConvTranspose3d(2, 4, 3), "weight", (2, 4, 3, 3, 1)),
    ("embedding", lambda: nn.Embedding(10, 4), "weight", (4, 10)),
    ("embeddingbag", lambda: nn.EmbeddingBag(10, 4), "weight", (10, 5)),
    ("layernorm-weight", lambda: nn.LayerNorm((3, 4)), "weight", (4, 3)),
    ("layernorm-bias", lambda: nn.LayerNorm((3, 4)), "bias", (12,)),
    ("rmsnorm", lambda: nn.RMSNorm(4), "weight", (5,)),
    ("groupnorm", lambda: nn.GroupNorm(2, 4), "bias", (2,)),
    ("batchnorm1d", lambda: nn.BatchNorm1d(3), "weight", (4,)),
    ("batchnorm2d-stats", lambda: nn.BatchNorm2d(3), "running_mean", (4,)),
    ("batchnorm3d-count", lambda: nn.BatchNorm3d(3), "num_batches_tracked", (1,)),
    ("syncbatchnorm", lambda: nn.SyncBatchNorm(3), "running_var", (1, 3)),
    ("instancenorm2d", lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True), "running_var", (6,)),
    ("mha-in-proj", lambda: nn.MultiheadAttention(8, 2), "in_proj_weight", (8, 24)),
    ("mha-in-proj-bias", lambda: nn.MultiheadAttention(8, 2), "in_proj_bias", (16,)),
    ("mha-kdim", lambda: nn.MultiheadAttention(8, 2, kdim=3, vdim=5), "k_proj_weight", (8, 5)),
    ("mha-bias-kv", lambda: nn.MultiheadAttention(8, 2, add_bias_kv=True), "bias_k", (1, 8)),
    ("lstm-proj-layer1", lambda: nn.LSTM(3, 4, 2, bidirectional=True, proj_size=2), "weight_ih_l1_reverse", (16, 8)),
    ("lstm-proj-hr", lambda: nn.LSTM(3, 4, proj_size=2), "weight_hr_l0", (4, 2)),
    ("gru-bidirectional", lambda: nn.GRU(3, 4, bidirectional=True), "weight_hh_l0_reverse", (16, 4)),
    ("rnn-bias", lambda: nn.RNN(3, 4, num_layers=2), "bias_ih_l1", (8,)),
    ("lstmcell", lambda: nn.LSTMCell(3, 4), "weight_ih", (16, 4)),
    ("grucell", lambda: nn.GRUCell(3, 4), "weight_hh", (4, 12)),
    ("rnncell", lambda: nn.RNNCell(3, 4), "bias_hh", (16,)),
    ("prelu", lambda: nn.PReLU(3), "weight", (1,)),
]


@pytest.mark.parametrize(("make", "attribute", "wrong"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_wrong_shape_is_flagged_and_the_twin_is_clean(make, attribute, wrong):
    twin = make()
    assert pi011(twin) == []
    module = make()
    expected = tuple(getattr(module, attribute).shape)
    assert expected != wrong
    replace(module, attribute, wrong)
    findings = pi011(module)
    assert [(f.module, f.attribute, f.names) for f in findings] == [("", attribute, (attribute,))]
    assert f"has shape {wrong}, expected {expected}" in findings[0].message
    # Assigned from a test function, not inside a class: no location, and never a line in torch.
    assert findings[0].file is None and findings[0].line is None


# -- presence: configuration flags that say a tensor exists, or does not ---------------------------------


def test_tensor_present_although_the_configuration_says_none():
    bn = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert pi011(bn) == []
    bn.weight = nn.Parameter(torch.ones(3))
    bn.running_mean = torch.zeros(3)
    got = {f.attribute: f.message for f in pi011(bn)}
    assert set(got) == {"weight", "running_mean"}
    assert "affine=False means it should be None" in got["weight"]
    assert "track_running_stats=False means it should be None" in got["running_mean"]

    ln = nn.LayerNorm(4, elementwise_affine=False)
    assert pi011(ln) == []
    ln.weight = nn.Parameter(torch.ones(4))
    assert [f.attribute for f in pi011(ln)] == ["weight"]

    lstm = nn.LSTM(3, 4, bias=False)
    assert pi011(lstm) == []
    lstm.register_parameter("bias_ih_l0", nn.Parameter(torch.zeros(16)))
    assert [f.attribute for f in pi011(lstm)] == ["bias_ih_l0"]

    mha = nn.MultiheadAttention(8, 2, kdim=3, vdim=5)
    assert pi011(mha) == []
    mha.in_proj_weight = nn.Parameter(torch.zeros(24, 8))
    assert [f.attribute for f in pi011(mha)] == ["in_proj_weight"]


def test_tensor_missing_although_the_configuration_requires_it():
    bn = nn.BatchNorm1d(3)
    bn.weight = None
    bn.running_var = None
    got = {f.attribute: f.message for f in pi011(bn)}
    assert set(got) == {"weight", "running_var"}
    assert f"is None, expected shape {tuple(nn.BatchNorm1d(3).weight.shape)}" in got["weight"]
    assert "(affine=True)" in got["weight"]

    linear = nn.Linear(4, 3)
    linear.weight = None
    assert [f.attribute for f in pi011(linear)] == ["weight"]


def test_optional_tensors_may_be_absent():
    # Linear/Conv/LayerNorm(bias=False) and MHA(bias=False) keep no flag for the bias.
    for module in (
        nn.Linear(4, 3, bias=False),
        nn.Conv2d(2, 4, 3, bias=False),
        nn.LayerNorm(4, bias=False),
        nn.MultiheadAttention(8, 2, bias=False),
        nn.GroupNorm(2, 4, affine=False),
        nn.InstanceNorm1d(3),
        nn.LSTMCell(3, 4, bias=False),
    ):
        assert pi011(module) == [], module


# -- what is skipped ------------------------------------------------------------------------------------


def test_lazy_modules_are_skipped_until_materialized():
    model = nn.Sequential(nn.LazyLinear(3), nn.LazyConv1d(4, 3), nn.LazyBatchNorm1d())
    assert pi011(model) == []


def test_subclass_is_checked_only_for_the_base_class_attributes():
    class ScaledLinear(nn.Linear):
        def __init__(self) -> None:
            super().__init__(4, 3)
            self.scale = nn.Parameter(torch.ones(7))
            self.register_buffer("mask", torch.ones(2, 2))

    assert pi011(ScaledLinear()) == []

    class TransposedLinear(nn.Linear):
        def __init__(self) -> None:
            super().__init__(4, 3)
            self.weight = nn.Parameter(torch.zeros(4, 3))

    findings = pi011(TransposedLinear())
    assert [f.attribute for f in findings] == ["weight"]
    assert findings[0].message.startswith("TransposedLinear(nn.Linear, in_features=4, out_features=3).weight")
    # The subclass's own `self.weight = ...` is the location (it is outside torch).
    assert (findings[0].file, findings[0].line) == (
        str(HERE),
        line_of(HERE, "self.weight = nn.Parameter(torch.zeros(4, 3))"),
    )


def test_subclass_may_drop_a_tensor_its_base_creates():
    # timm's GroupNorm1NoBias: `self.bias = None` in a GroupNorm subclass is a design choice.
    class GroupNormNoBias(nn.GroupNorm):
        def __init__(self, channels: int) -> None:
            super().__init__(1, channels)
            self.bias = None

    assert pi011(GroupNormNoBias(4)) == []
    plain = nn.GroupNorm(1, 4)
    plain.bias = None  # on torch's own class it contradicts affine=True
    assert [f.attribute for f in pi011(plain)] == ["bias"]


def test_zero3_partitioned_parameter_is_compared_by_its_full_shape():
    linear = nn.Linear(4, 3)
    part = nn.Parameter(torch.empty(0))
    part.ds_shape = linear.weight.shape  # what DeepSpeed ZeRO-3 leaves on a partitioned parameter
    linear.weight = part
    assert pi011(linear) == []
    part.ds_shape = torch.Size((4, 3))
    assert [f.attribute for f in pi011(linear)] == ["weight"]


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)


class _Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = _Block()
        self.layers = nn.ModuleList([nn.Linear(2, 2)])
        self.block.fc.weight = nn.Parameter(torch.zeros(4, 3))  # outer-assignment
        self.layers[0].weight = nn.Parameter(torch.zeros(3, 2))


def test_location_is_found_in_an_ancestor_class():
    got = {f.module: f for f in pi011(_Outer())}
    assert set(got) == {"block.fc", "layers.0"}
    assert got["block.fc"].line == line_of(HERE, "# outer-assignment")
    assert got["block.fc"].names == ("block.fc.weight",)
    # `self.layers[0].weight = ...` is not an attribute chain: best effort gives no location.
    assert got["layers.0"].line is None


def test_reparametrized_weights_are_not_flagged():
    class Flatten(nn.Module):
        # `original` is stored flat: its shape says nothing about the weight's.
        def forward(self, x):
            return x.reshape(3, 4)

        def right_inverse(self, w):
            return w.reshape(-1)

    flat = nn.Linear(4, 3)
    parametrize.register_parametrization(flat, "weight", Flatten())
    assert flat.parametrizations.weight.original.shape == (12,)

    from torch.nn.utils import prune, spectral_norm
    from torch.nn.utils.parametrizations import orthogonal, weight_norm

    with pytest.warns(FutureWarning):
        old_weight_norm = torch.nn.utils.weight_norm(nn.Linear(4, 3))
    model = nn.Sequential(
        flat,
        weight_norm(nn.Linear(4, 3)),
        orthogonal(nn.Linear(4, 4)),
        old_weight_norm,
        spectral_norm(nn.Conv2d(2, 4, 3)),
        prune.l1_unstructured(nn.Linear(4, 3), "weight", 0.5),
    )
    assert pi011(model) == []
    # The untouched bias of a parametrized module is still checked.
    replace(flat, "bias", (4,))
    assert [(f.module, f.attribute) for f in pi011(model)] == [("0", "bias")]


# -- real models: clean, and the rule does see their layers --------------------------------------------------


def _assert_clean_and_sensitive(model: nn.Module, must_cover: type) -> None:
    assert pi011(model) == []
    modules = [m for m in model.modules() if _spec_for(m) is not None]
    assert any(isinstance(m, must_cover) for m in modules)
    # Corrupt one tensor the rule covers: exactly that one is reported.
    target = next(m for m in modules if isinstance(m, must_cover))
    expect = next(e for e in _spec_for(target).expects if e.shape and getattr(target, e.attribute, None) is not None)
    replace(target, expect.attribute, (*expect.shape, 1))
    assert [f.attribute for f in pi011(model)] == [expect.attribute]


@pytest.mark.parametrize(
    ("name", "covers"),
    [
        ("resnet18", nn.Conv2d),
        ("vit_tiny_patch16_224", nn.LayerNorm),
        ("convnext_atto", nn.Conv2d),
        ("efficientnet_b0", nn.BatchNorm2d),
        ("swin_tiny_patch4_window7_224", nn.Linear),
        ("sequencer2d_s", nn.LSTM),
        ("poolformerv2_s12", nn.GroupNorm),
    ],
)
def test_timm_models_on_meta_are_clean(name, covers):
    loaded = load(f"timm:{name}", device="meta")
    _assert_clean_and_sensitive(loaded.module, covers)


@pytest.mark.parametrize(
    ("name", "covers"),
    [("resnet18", nn.BatchNorm2d), ("mobilenet_v3_small", nn.Conv2d), ("vit_b_16", nn.MultiheadAttention)],
)
def test_torchvision_models_on_meta_are_clean(name, covers):
    import torchvision

    with torch.device("meta"):
        model = torchvision.models.get_model(name, weights=None)
    _assert_clean_and_sensitive(model, covers)


def test_torch_layers_with_unusual_configurations_are_clean():
    model = nn.ModuleDict(
        {
            "mha": nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True),
            "lstm": nn.LSTM(3, 6, num_layers=3, proj_size=2, bidirectional=True),
            "gru": nn.GRU(3, 4, num_layers=2, bidirectional=True, bias=False),
            "rnn": nn.RNN(3, 4, nonlinearity="relu"),
            "transformer": nn.Transformer(8, 2, 1, 1, 16, batch_first=True),
            "deconv": nn.ConvTranspose2d(4, 6, (3, 2), groups=2),
        }
    )
    assert pi011(model) == []


# -- catalog and import cost ----------------------------------------------------------------------------


def test_rule_is_in_the_catalog_with_the_tutorial():
    rule = all_rules()["PI011"]
    assert rule.severity == "error" and rule.check is check_shapes
    assert "NN_Network" in rule.explanation and "(out_features, in_features)" in rule.explanation
    # the tutorial's two mistakes are tested examples: a transposed weight, and one that is
    # not even the transpose of the expected shape
    bad = [e.bad for e in rule.examples]
    assert any("nn.Linear(5, 2)" in b and "torch.zeros(5, 2)" in b for b in bad)
    assert any("nn.Linear(2, 3)" in b and "torch.zeros(5, 2)" in b for b in bad)


def test_no_model_no_findings():
    assert check_shapes(CheckContext(inventory=None, model=None)) == []


def test_shapes_module_does_not_import_torch():
    code = "import sys, paraminspect.checks.module_config; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=HERE.parent.parent)


def test_sample_spec_loads():
    # The sample is usable as a MODEL spec (what `paraminspect check` is given).
    loaded = load(sample("nn_network"))
    assert {(f.module, f.attribute) for f in pi011(loaded.module)} >= {("linear1", "weight"), ("linear2", "weight")}


# -- through the CLI ------------------------------------------------------------------------------------


def test_check_command_reports_pi011_for_the_tutorial_model(cli):
    import json

    result = cli("check", sample("nn_network"), "--select", "PI011", "--format", "json")
    assert result.code == 1, result.err
    findings = json.loads(result.out)["findings"]
    got = {(f["module"], f["attribute"]): f for f in findings}
    assert set(got) == {("linear1", "weight"), ("linear2", "weight"), ("linear2", "bias")}
    assert all(f["code"] == "PI011" and f["severity"] == "error" for f in findings)
    source = SAMPLES / "nn_network.py"
    assert got[("linear1", "weight")]["line"] == line_of(source, "self.linear1.weight =")
    assert Path(got[("linear1", "weight")]["file"]).name == "nn_network.py"
    assert "expected (2, 5) = (out_features, in_features)" in got[("linear1", "weight")]["message"]

    fixed = cli("check", sample("nn_network_fixed"))
    assert fixed.code == 0, fixed.out + fixed.err


def test_explain_prints_the_tutorial_example_and_fix(cli):
    result = cli("explain", "PI011")
    assert result.code == 0
    lines = result.out.splitlines()
    assert "            self.linear2.weight = nn.Parameter(torch.zeros(5, 2))" in lines
    assert "    -        self.linear2.weight = nn.Parameter(torch.zeros(5, 2))" in lines
    assert "    +        nn.init.zeros_(self.linear2.weight)" in lines
    assert "    +        self.linear.weight = nn.Parameter(torch.zeros(2, 5))" in lines
    assert "(out_features, in_features)" in result.out
    assert "class NN_Network" not in result.out  # the old untested snippet is gone: one set of examples
