"""forward_stats: output shapes, FLOPs and activation memory of one forward pass on meta,
checked against the same model run for real on CPU, and the model left exactly as found."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import random
import sys
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import pytest
import torch
from conftest import SAMPLES
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from paraminspect.errors import UsageError
from paraminspect.forward.examples import RunOptions, resolve_example
from paraminspect.forward.outputs import output_tensors
from paraminspect.forward.stats import example_from, forward_stats
from paraminspect.forward.stats_data import CPU, FAKE, INFERENCE, META, TRAINING, ForwardStats, forward_block
from paraminspect.forward.training_memory import training_memory
from paraminspect.loaders.fastmeta import meta_device_without_init
from paraminspect.tensors.memory import estimate
from paraminspect.tensors.walk import build_inventory

sys.path.insert(0, str(SAMPLES))
import huge

# --- small models for the truth checks -------------------------------------------------------


class Tagger(nn.Module):
    """An LSTM sequence tagger: embedding, bidirectional LSTM, per-token classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.lstm = nn.LSTM(16, 32, batch_first=True, bidirectional=True)
        self.classify = nn.Linear(64, 5)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.embed(ids))
        return self.classify(hidden)


class Thrice(nn.Module):
    """One block applied three times: its parameters once, its FLOPs three times."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Linear(8, 8), nn.GELU())
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.block(self.block(x))))


class DictOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.logits = nn.Linear(4, 6)
        self.aux = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        return {"logits": self.logits(x), "extra": (self.aux(x), [x.sum(), x.mean(0)])}


def _timm(name: str, **kwargs: Any) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import timm

        return timm.create_model(name, pretrained=False, **kwargs)

    return build


def _small_decoder() -> nn.Module:
    return huge.build(vocab=100, dim=64, layers=2, hidden=96, heads=4, kv_heads=2)


CASES = {
    "resnet18": (_timm("resnet18"), lambda: (torch.randn(2, 3, 64, 64),)),
    "vit_tiny": (_timm("vit_tiny_patch16_224"), lambda: (torch.randn(1, 3, 224, 224),)),
    "lstm_tagger": (Tagger, lambda: (torch.randint(0, 100, (2, 7)),)),
    "applied_three_times": (Thrice, lambda: (torch.randn(3, 8),)),
    "dict_output": (DictOutput, lambda: (torch.randn(5, 4),)),
    "small_decoder": (_small_decoder, lambda: (torch.randint(0, 100, (2, 12)),)),
}


def _cpu_reference(model: nn.Module, args: tuple[Any, ...]) -> tuple[dict[str, Any], dict[str, int], int, int]:
    """Output shapes from forward hooks and FLOPs from FlopCounterMode, on CPU, by module
    path; and what autograd saves for backward on CPU (distinct storages, weights and
    inputs left out).

    FlopCounterMode has no formula for two CPU kernels and counts them as 0: the oneDNN LSTM
    (`mkldnn_rnn_layer`) and the fused CPU attention (`_scaled_dot_product_flash_attention_for_cpu`).
    The FLOP reference therefore runs the decomposed LSTM (oneDNN off) and SDPA's math
    backend, the paths FlopCounterMode does count (the same two matmuls per attention)."""
    names = {module: name for name, module in model.named_modules()}
    shapes: dict[str, Any] = {}
    calls: dict[str, int] = {}

    def hook(module: nn.Module, _args: Any, output: Any) -> None:
        name = names[module]
        calls[name] = calls.get(name, 0) + 1
        shapes.setdefault(name, tuple(tuple(t.shape) for t in output_tensors(output)))

    handles = [m.register_forward_hook(hook) for m in names]
    try:
        math_attention, no_onednn = sdpa_kernel(SDPBackend.MATH), torch.backends.mkldnn.flags(enabled=False)
        with math_attention, no_onednn, FlopCounterMode(display=False) as counter:
            model(*args)
    finally:
        for handle in handles:
            handle.remove()
    root = type(model).__name__
    counts = {key: sum(ops.values()) for key, ops in counter.get_flop_counts().items()}
    flops = {name: counts.get(f"{root}.{name}" if name else root, 0) for name in names.values()}

    weights = {t.untyped_storage()._cdata for t in (*model.parameters(), *model.buffers(), *args)}
    saved: dict[int, int] = {}
    keep: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = t.untyped_storage()._cdata
        if key not in weights:
            saved[key] = t.untyped_storage().nbytes()
            keep.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(*args)  # CPU's own kernel choices (fused attention where it applies)
    return shapes | {"__calls__": calls}, flops, counter.get_total_flops(), sum(saved.values())


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")
@pytest.mark.parametrize("case", list(CASES))
def test_meta_pass_matches_a_cpu_run(case: str) -> None:
    build, make_inputs = CASES[case]
    torch.manual_seed(0)
    cpu_model = build()
    args = make_inputs()
    shapes, flops, total, saved = _cpu_reference(cpu_model, args)
    calls = shapes.pop("__calls__")
    with meta_device_without_init():
        meta_model = build()
    stats = forward_stats(meta_model, args)

    assert stats.engine == META and stats.notes == ()
    assert [m.name for m in stats.modules] == [name for name, _ in meta_model.named_modules()]
    assert stats.modules[0].name == "" and stats.modules[0].type == type(meta_model).__name__
    assert {m.name: m.output_shapes for m in stats.modules if m.calls} == shapes
    assert {m.name: m.calls for m in stats.modules if m.calls} == calls
    assert {m.name: m.flops for m in stats.modules} == flops
    assert stats.flops == total > 0
    assert stats.activation_kind == TRAINING
    if case != "lstm_tagger":  # the CPU LSTM kernel (oneDNN) saves other tensors than its decomposition
        assert stats.activation_bytes == saved
    assert stats.input_bytes == sum(a.numel() * a.element_size() for a in args)


def test_a_module_applied_three_times_counts_each_call_and_its_parameters_once() -> None:
    model = Thrice()
    stats = forward_stats(model, torch.randn(3, 8))
    block, linear = stats.module("block"), stats.module("block.0")
    assert block is not None and linear is not None
    assert (block.calls, linear.calls) == (3, 3)
    assert linear.flops == 3 * 2 * 3 * 8 * 8  # three addmm of (3x8) @ (8x8)
    from paraminspect.render.tree import tree_rows
    from paraminspect.tensors.totals import module_summary

    rows = {r.name: r for r in tree_rows(module_summary(build_inventory(model), 9), stats)}
    assert rows["block.0"].parameters == 8 * 8 + 8
    assert rows[""].parameters == sum(p.numel() for p in model.parameters())


class Shared(nn.Module):
    """One Linear under two names, and one held in a plain list (not registered)."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(4, 4)
        self.second = self.first
        self.outer = nn.Sequential(nn.Identity())
        self.hidden = [nn.Linear(4, 4)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outer(self.hidden[0](self.second(self.first(x))))


def test_shared_modules_are_one_row_and_unregistered_ones_count_for_their_callers() -> None:
    stats = forward_stats(Shared(), torch.randn(2, 4))
    assert [m.name for m in stats.modules] == ["", "first", "outer", "outer.0"]
    first = stats.module("second")
    assert first is not None and first.name == "first" and first.aliases == ("second",)
    one_linear = 2 * 2 * 4 * 4
    assert (first.calls, first.flops) == (2, 2 * one_linear)
    assert stats.modules[0].flops == stats.flops == 3 * one_linear  # the list's Linear counts in the root


# --- output structures -----------------------------------------------------------------------

Pair = namedtuple("Pair", "first second")


@dataclasses.dataclass
class Result:
    loss: torch.Tensor
    parts: tuple[torch.Tensor, ...]
    label: str = "x"


class Structured(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.proj = nn.Linear(4, 6)

    def forward(self, x: torch.Tensor) -> Any:
        y = self.proj(x)
        if self.kind == "namedtuple":
            return Pair(y, y[:, :2])
        if self.kind == "dataclass":
            return Result(y.sum(), (y, y.t()))
        if self.kind == "normal":
            return torch.distributions.Normal(y, y.exp(), validate_args=True)
        if self.kind == "categorical":
            return torch.distributions.Categorical(logits=y, validate_args=True)
        return {"b": y.t(), "a": [y, {"deep": y.unsqueeze(0)}], "none": None}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("namedtuple", ((3, 6), (3, 2))),
        ("dataclass", ((), (3, 6), (6, 3))),
        ("normal", ((3, 6), (3, 6))),
        ("categorical", ((3, 6),)),
        ("dict", ((6, 3), (3, 6), (1, 3, 6))),
    ],
)
def test_structured_outputs_flatten_in_order(kind: str, expected: tuple[tuple[int, ...], ...]) -> None:
    with torch.device("meta"):
        model = Structured(kind)
    stats = forward_stats(model, torch.randn(3, 4))
    # a validating distribution checks its arguments' values (scale > 0): only a CPU run has
    # values (explicit: torch.compile elsewhere in the suite turns the global default off)
    assert stats.engine == (CPU if kind in ("normal", "categorical") else META)
    assert stats.modules[0].output_shapes == expected


def test_hf_models_built_from_transformers_classes_run_on_meta() -> None:
    pytest.importorskip("transformers")
    from paraminspect.loaders.dispatch import load

    small = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
    for spec, extra in (("transformers:BertModel", {}), ("transformers:LlamaForCausalLM", {"num_key_value_heads": 2})):
        loaded = load(spec, {**small, **extra, "vocab_size": 100})
        assert loaded.build_device == "meta"
        model = loaded.module
        example = example_from(model, input_ids=(2, 9))
        stats = forward_stats(model, example)
        assert stats.engine in (META, FAKE)
        assert stats.flops > 0 and stats.activation_bytes > 0
        hidden = (2, 9, 32)
        layer = "encoder.layer.1" if "Bert" in spec else "model.layers.1"
        assert stats.module(layer) is not None and stats.module(layer).output_shapes[0] == hidden  # type: ignore[union-attr]
        if "Llama" in spec:
            assert stats.modules[0].output_shapes[0] == (2, 9, 100)  # logits first in the ModelOutput
        # keyword inputs, as an HF model's forward takes them
        by_keyword = forward_stats(model, (), kwargs={"input_ids": example.args[0]})
        assert by_keyword.flops == stats.flops


# --- tied weights, LSTMs, lazy modules -------------------------------------------------------


class TiedLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.body = nn.Linear(16, 16)
        self.head = nn.Linear(16, 50, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(self.embed(ids))))


def test_tied_weights_stay_tied_and_are_no_activation() -> None:
    with torch.device("meta"):
        model = TiedLM()
    stats = forward_stats(model, torch.randint(0, 50, (2, 5)))
    assert model.head.weight is model.embed.weight
    assert stats.modules[0].output_shapes == ((2, 5, 50),)
    # saved for backward: the embedding's output (Linear input), relu's output; not the tied weight
    assert stats.activation_bytes == 2 * (2 * 5 * 16 * 4)
    cpu = TiedLM()
    reference = forward_stats(cpu, torch.randint(0, 50, (2, 5)), engines=(CPU,))
    assert reference.activation_bytes == stats.activation_bytes and reference.flops == stats.flops


def test_lstm_flat_weights_are_the_parameters_again_after_the_pass() -> None:
    with torch.device("meta"):
        model = Tagger()
    flat = list(model.lstm._flat_weights)
    stats = forward_stats(model, torch.randint(0, 100, (2, 7)))
    assert stats.module("lstm").output_shapes == ((2, 7, 64), (2, 2, 32), (2, 2, 32))  # type: ignore[union-attr]
    assert all(a is b for a, b in zip(model.lstm._flat_weights, flat, strict=True))
    registered = [getattr(model.lstm, name) for name in model.lstm._flat_weights_names]
    assert all(a is b for a, b in zip(flat, registered, strict=True))
    # a CPU run counts the same FLOPs (the decomposed LSTM, not oneDNN's uncounted kernel)
    on_cpu = forward_stats(Tagger(), torch.randint(0, 100, (2, 7)), engines=(CPU,))
    assert on_cpu.engine == CPU and on_cpu.flops == stats.flops > 0


def test_lazy_modules_run_on_a_copy_and_stay_uninitialised() -> None:
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
    stats = forward_stats(model, torch.randn(4, 5))
    assert stats.modules[0].output_shapes == ((4, 2),)
    assert stats.flops == 2 * 4 * 5 * 8 + 2 * 4 * 8 * 2
    assert isinstance(model[0].weight, nn.parameter.UninitializedParameter)
    assert isinstance(model[0], nn.LazyLinear)
    assert any("copy" in note for note in stats.notes)


# --- fallbacks -------------------------------------------------------------------------------


class MakesCpuTensors(nn.Module):
    """Makes a tensor without a device in forward: meta refuses to mix it in."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) + torch.arange(6.0)


class ReadsValues(nn.Module):
    """Decides its path on a value: neither meta nor fake tensors have one."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        return y * 2 if float(y.abs().sum()) >= 0 else y


def test_a_tensor_made_on_cpu_falls_back_to_fake_tensors() -> None:
    with torch.device("meta"):
        model = MakesCpuTensors()
    stats = forward_stats(model, torch.randn(2, 6))
    assert stats.engine == FAKE
    assert stats.modules[0].output_shapes == ((2, 6),) and stats.flops == 2 * 2 * 6 * 6
    assert len(stats.notes) == 1 and "meta device" in stats.notes[0] and "FakeTensorMode" in stats.notes[0]


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
def test_reading_values_falls_back_to_cpu_within_the_limit_and_refuses_above_it() -> None:
    with torch.device("meta"):
        model = ReadsValues()
    stats = forward_stats(model, torch.randn(2, 6))
    assert stats.engine == CPU and stats.flops == 2 * 2 * 6 * 6
    assert "on CPU" in stats.notes[0]
    assert model.proj.weight.is_meta  # the CPU run used copies
    with pytest.raises(UsageError) as caught:
        forward_stats(model, torch.randn(2, 6), max_cpu=10)
    message = str(caught.value)
    assert "\n" not in message and "over the 10B limit" in message and "meta device" in message


class PooledNorm(nn.Module):
    """BatchNorm after global pooling: one value per channel at batch 1, refused in training."""

    def __init__(self) -> None:
        super().__init__()
        self.pretrained_cfg = {"input_size": (3, 8, 8)}  # as timm models carry it
        self.conv = nn.Conv2d(3, 4, 3)
        self.norm = nn.BatchNorm1d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x).mean((2, 3)))


def test_the_automatic_batch_of_one_becomes_two_where_batchnorm_refuses_it() -> None:
    with torch.device("meta"):
        model = PooledNorm()
    stats = forward_stats(model, example_from(model))
    assert stats.engine == META and stats.inputs[0].shape == (2, 3, 8, 8)
    assert stats.modules[0].output_shapes == ((2, 4),)
    assert stats.notes == (
        "batch 1 is refused by BatchNorm in training mode: ran with (2, 3, 8, 8) from the "
        "model's pretrained_cfg input_size",
    )
    assert forward_stats(model.eval(), example_from(model)).inputs[0].shape == (1, 3, 8, 8)


def test_a_forward_that_fails_everywhere_is_one_usage_error() -> None:
    model = nn.Linear(6, 6)
    with pytest.raises(UsageError) as caught:
        forward_stats(model, torch.randn(2, 5))
    assert "\n" not in str(caught.value) and "cannot run Linear" in str(caught.value)


# --- the model is left exactly as found -----------------------------------------------------


class Stateful(nn.Module):
    """A forward that changes what it can: attributes, its mode, the default dtype, random state."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 3))
        self.frozen = nn.Linear(3, 3)
        self.frozen.requires_grad_(False)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.cache = x
        self.body[2].eval()
        random.random()
        torch.set_default_dtype(torch.float64)
        if self.fail:
            raise ValueError("boom")
        return self.frozen(self.body(x))


def _state(model: nn.Module) -> dict[str, Any]:
    tensors = {name: t for name, t in (*model.named_parameters(), *model.named_buffers())}
    return {
        "modes": [m.training for m in model.modules()],
        "attributes": [dict(vars(m)) for m in model.modules()],
        "hooks": [
            (dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks)) for m in model.modules()
        ],
        "global_hooks": (
            dict(nn.modules.module._global_forward_hooks),
            dict(nn.modules.module._global_forward_pre_hooks),
        ),
        "tensors": {n: (t, t.device, t.requires_grad, t.grad, t.data_ptr()) for n, t in tensors.items()},
        "buffer_values": {n: t.clone() for n, t in model.named_buffers() if t.device.type != "meta"},
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        "default_dtype": torch.get_default_dtype(),
    }


def _assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after["modes"] == before["modes"]
    for a, b in zip(after["attributes"], before["attributes"], strict=True):
        assert a.keys() == b.keys() and all(a[k] is b[k] for k in a)
    assert after["hooks"] == before["hooks"]
    assert after["global_hooks"] == before["global_hooks"]
    assert after["tensors"].keys() == before["tensors"].keys()
    for name, (t, device, grad_flag, grad, ptr) in before["tensors"].items():
        t2, device2, grad_flag2, grad2, ptr2 = after["tensors"][name]
        assert t2 is t and device2 == device and grad_flag2 == grad_flag and grad2 is grad and ptr2 == ptr
    for name, value in before["buffer_values"].items():
        assert torch.equal(after["buffer_values"][name], value), name
    assert torch.equal(after["torch_rng"], before["torch_rng"])
    assert after["python_rng"] == before["python_rng"]
    assert after["default_dtype"] == before["default_dtype"]


@pytest.mark.parametrize("device", ["cpu", "meta"])
@pytest.mark.parametrize("fail", [False, True])
def test_the_model_is_left_exactly_as_found(device: str, fail: bool, request: pytest.FixtureRequest) -> None:
    with torch.device(device):
        model = Stateful(fail=fail)
    model.body[1].eval()  # a mix of modes
    seen: list[str] = []
    model.body.register_forward_hook(lambda m, i, o: seen.append("hook"))
    model.body.register_forward_pre_hook(lambda m, i: seen.append("pre"))
    # a global hook of the user's own (torchinfo#287-style tools removed or left others)
    user_global = nn.modules.module.register_module_forward_hook(lambda m, i, o: None)
    request.addfinalizer(user_global.remove)
    if device == "cpu":
        model.body[0].weight.grad = torch.ones_like(model.body[0].weight)
    x = torch.randn(4, 4)
    torch.manual_seed(1234)
    random.seed(99)
    before = _state(model)
    if fail:
        with pytest.raises(UsageError, match="ValueError: boom"):
            forward_stats(model, x)
    else:
        stats = forward_stats(model, x)
        assert [m.mode for m in stats.modules] == ["train" if flag else "eval" for flag in before["modes"]]
        assert stats.modules[0].output_shapes == ((4, 3),)
    _assert_same(before, _state(model))
    assert seen[:2] == ([] if fail else ["pre", "hook"])  # the user's own hooks ran, and stay registered
    model.body(torch.zeros(2, 4, device=device))  # still callable as before; hooks still there
    assert seen[-2:] == ["pre", "hook"]


def test_a_cpu_run_leaves_batchnorm_statistics_and_grads_alone() -> None:
    model = Stateful()
    model.body[0].weight.grad = torch.full_like(model.body[0].weight, 3.0)
    x = torch.randn(4, 4)
    before = _state(model)
    stats = forward_stats(model, x, engines=(CPU,))
    assert stats.engine == CPU
    _assert_same(before, _state(model))
    assert int(model.body[1].num_batches_tracked) == 0


def test_inference_mode_measures_outputs() -> None:
    model = Thrice().eval()
    stats = forward_stats(model, torch.randn(3, 8))
    assert stats.activation_kind == INFERENCE
    assert all(m.mode == "eval" for m in stats.modules)
    # distinct outputs: three Linear and three GELU results of 3x8, and the head's 3x2 (floats)
    assert stats.activation_bytes == (6 * 3 * 8 + 3 * 2) * 4
    assert model.training is False


# --- the result is plain data ----------------------------------------------------------------


def _plain(value: Any) -> bool:
    if isinstance(value, (str, int, float, bool, type(None))):
        return True
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    if dataclasses.is_dataclass(value):
        return all(_plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def test_stats_are_picklable_plain_data() -> None:
    with torch.device("meta"):
        model = Tagger()
    stats = forward_stats(model, torch.randint(0, 100, (2, 7)))
    assert _plain(stats)
    assert pickle.loads(pickle.dumps(stats)) == stats
    assert isinstance(stats, ForwardStats)
    block = json.loads(json.dumps(forward_block(stats)))
    assert block["flops"] == stats.flops and block["engine"] == "meta" and block["activation_kind"] == "training"
    assert block["inputs"] == [{"name": "args[0]", "shape": [2, 7], "dtype": "int64", "bytes": 2 * 7 * 8}]
    assert block["modules"][0]["name"] == "" and block["modules"][0]["output_shapes"] == [[2, 7, 5]]
    lstm = next(m for m in block["modules"] if m["name"] == "lstm")
    assert lstm["output_shapes"] == [[2, 7, 64], [2, 2, 32], [2, 2, 32]] and lstm["mode"] == "train"
    assert block["activation_bytes"] == sum(block["activation_bytes_by_dtype"].values()) == stats.activation_bytes


# --- training memory -------------------------------------------------------------------------


def test_training_memory_adds_weights_gradients_adam_inputs_and_activations() -> None:
    with torch.device("meta"):
        model = Stateful()
    inv = build_inventory(model)
    stats = forward_stats(model, torch.randn(4, 4))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    own = training_memory(inv, stats)
    assert own.weights_bytes == inv.totals.bytes
    assert own.gradient_bytes == trainable * 4 and own.optimizer_bytes == 2 * trainable * 4
    assert own.training_bytes == own.weights_bytes + 3 * trainable * 4 + stats.input_bytes + stats.activation_bytes

    bf16 = training_memory(inv, stats, "bfloat16", optimizer_dtype="float32")
    assert bf16.weights_bytes == estimate(inv, "bfloat16").weights_bytes
    assert bf16.gradient_bytes == trainable * 2 and bf16.optimizer_bytes == 2 * trainable * 4
    assert bf16.saved_bytes * 2 == stats.activation_bytes and bf16.input_bytes * 2 == stats.input_bytes
    assert bf16.training_bytes == sum(
        (bf16.weights_bytes, bf16.gradient_bytes, bf16.optimizer_bytes, bf16.input_bytes, bf16.saved_bytes)
    )

    int8 = training_memory(inv, stats, "int8")
    assert int8.training_bytes is None and int8.optimizer_bytes is None and int8.gradient_bytes is None
    assert int8.weights_bytes == estimate(inv, "int8").weights_bytes
    assert int8.activation_bytes == stats.activation_bytes and "not trained" in int8.notes[0]
    with pytest.raises(UsageError):
        training_memory(inv, stats, "bfloat16", optimizer_dtype="int8")


# --- a 70B decoder on meta -------------------------------------------------------------------


def _peak_rss_kib() -> int:
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])


def test_a_70b_decoder_with_4096_tokens_runs_on_meta_in_little_memory() -> None:
    with meta_device_without_init():
        model = huge.build()
    example = resolve_example(RunOptions(input_ids="1,4096"), model)
    peak = _peak_rss_kib()
    stats = forward_stats(model, example)
    grown_mib = (_peak_rss_kib() - peak) / 1024
    assert stats.engine == META and stats.notes == ()
    assert grown_mib < 1024  # activations alone would be ~250 GiB: nothing was allocated
    assert stats.modules[0].output_shapes == ((1, 4096, 128_256),)
    layers = [m for m in stats.modules if m.type == "DecoderLayer"]
    assert len(layers) == 80 and all(m.calls == 1 and m.output_shapes == ((1, 4096, 8192),) for m in layers)
    # FLOPs from the configuration: 2 per multiply-add of every Linear, and attention's two
    # matmuls per layer (4 x heads x T^2 x head_dim)
    tokens = 4096
    linear = sum(2 * tokens * m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    attention = 80 * 4 * 64 * tokens * tokens * 128
    assert stats.flops == linear + attention
    assert stats.module("layers.0.mlp").flops == 3 * 2 * tokens * 8192 * 28_672  # type: ignore[union-attr]
    # the fused attention a CPU run picks keeps q, k, v, output and log-sum-exp, not T^2 weights
    assert stats.activation_bytes < 80 * 64 * tokens * tokens * 4
    assert math.isclose(stats.input_bytes, tokens * 8)
