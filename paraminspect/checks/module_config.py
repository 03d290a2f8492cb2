"""PI011: a built-in torch.nn module whose registered parameter or buffer contradicts the
module's own configuration (shape, or presence).

The expected shapes are computed from the configuration attributes each torch.nn class keeps
(`in_features`, `kernel_size`, `affine`, ...), the same way its `__init__` creates them.
Subclasses are checked only for the shapes of the attributes the base class owns (a subclass
may drop or add tensors on purpose: presence is checked on torch's own classes). To stay free
of false alarms, an attribute is skipped whenever its shape is not the module's business alone:
lazy (uninitialized) parameters, tensor subclasses (quantized or packed weights report their
own shapes), attributes reparametrized by torch.nn.utils.parametrize, and attributes that
weight_norm / spectral_norm / prune replaced by a plain attribute.

torch is imported inside `check_shapes` only, so `rules` and `explain` stay instant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from paraminspect.checks.rule import ERROR, Example, Finding, Rule, example_source
from paraminspect.sources import is_torch_class

CODE = "PI011"


@dataclass(frozen=True)
class _Expect:
    """What the module's configuration says about one attribute it owns."""

    attribute: str
    shape: tuple[int, ...] | None  # None: the configuration says there is no such tensor
    formula: str = ""  # how `shape` follows from the configuration, e.g. "(out_features, in_features)"
    required: bool = True  # False: the configuration does not record whether it exists (Linear's bias)
    reason: str = ""  # the configuration flag that makes it required or absent, e.g. "affine=True"


@dataclass(frozen=True)
class _Spec:
    base: str  # the torch.nn class whose attributes these are, e.g. "Linear"
    config: tuple[tuple[str, Any], ...]
    expects: tuple[_Expect, ...]


def _is_int(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)


def _times(n: int, what: str) -> str:
    return what if n == 1 else f"{n} * {what}"


# -- one function per family: module -> _Spec, or None when the configuration is unusable ---------


def _linear(m: Any) -> _Spec | None:
    i, o = m.in_features, m.out_features
    if not _is_int(i, o):
        return None
    return _Spec(
        "Linear",
        (("in_features", i), ("out_features", o)),
        (
            _Expect("weight", (o, i), "(out_features, in_features)"),
            _Expect("bias", (o,), "(out_features,)", required=False),
        ),
    )


def _bilinear(m: Any) -> _Spec | None:
    i1, i2, o = m.in1_features, m.in2_features, m.out_features
    if not _is_int(i1, i2, o):
        return None
    return _Spec(
        "Bilinear",
        (("in1_features", i1), ("in2_features", i2), ("out_features", o)),
        (
            _Expect("weight", (o, i1, i2), "(out_features, in1_features, in2_features)"),
            _Expect("bias", (o,), "(out_features,)", required=False),
        ),
    )


def _conv(m: Any, base: str) -> _Spec | None:
    i, o, g, k, transposed = m.in_channels, m.out_channels, m.groups, m.kernel_size, m.transposed
    if not (_is_int(i, o, g) and g > 0 and isinstance(k, tuple) and _is_int(*k)):
        return None
    if transposed:
        weight = _Expect("weight", (i, o // g, *k), "(in_channels, out_channels // groups, *kernel_size)")
    else:
        weight = _Expect("weight", (o, i // g, *k), "(out_channels, in_channels // groups, *kernel_size)")
    return _Spec(
        base,
        (("in_channels", i), ("out_channels", o), ("kernel_size", k), ("groups", g)),
        (weight, _Expect("bias", (o,), "(out_channels,)", required=False)),
    )


def _embedding(m: Any, base: str) -> _Spec | None:
    n, d = m.num_embeddings, m.embedding_dim
    if not _is_int(n, d):
        return None
    return _Spec(
        base,
        (("num_embeddings", n), ("embedding_dim", d)),
        (_Expect("weight", (n, d), "(num_embeddings, embedding_dim)"),),
    )


def _affine(names: tuple[str, ...], shape: tuple[int, ...], formula: str, flag: str, on: bool) -> list[_Expect]:
    """Tensors that exist exactly when a boolean configuration flag is on."""
    reason = f"{flag}={on}"
    return [_Expect(n, shape if on else None, formula if on else "", reason=reason) for n in names]


def _layer_norm(m: Any) -> _Spec | None:
    shape, affine = m.normalized_shape, m.elementwise_affine
    if not (isinstance(shape, tuple) and _is_int(*shape) and isinstance(affine, bool)):
        return None
    expects = _affine(("weight",), shape, "normalized_shape", "elementwise_affine", affine)
    # LayerNorm(bias=False) keeps no flag: the bias is optional even when affine.
    if affine:
        expects.append(_Expect("bias", shape, "normalized_shape", required=False))
    else:
        expects += _affine(("bias",), shape, "", "elementwise_affine", False)
    return _Spec("LayerNorm", (("normalized_shape", shape), ("elementwise_affine", affine)), tuple(expects))


def _rms_norm(m: Any) -> _Spec | None:
    shape, affine = m.normalized_shape, m.elementwise_affine
    if not (isinstance(shape, tuple) and _is_int(*shape) and isinstance(affine, bool)):
        return None
    return _Spec(
        "RMSNorm",
        (("normalized_shape", shape), ("elementwise_affine", affine)),
        tuple(_affine(("weight",), shape, "normalized_shape", "elementwise_affine", affine)),
    )


def _group_norm(m: Any) -> _Spec | None:
    groups, channels, affine = m.num_groups, m.num_channels, m.affine
    if not (_is_int(groups, channels) and isinstance(affine, bool)):
        return None
    return _Spec(
        "GroupNorm",
        (("num_groups", groups), ("num_channels", channels), ("affine", affine)),
        tuple(_affine(("weight", "bias"), (channels,), "(num_channels,)", "affine", affine)),
    )


def _batch_norm(m: Any, base: str) -> _Spec | None:
    n, affine, track = m.num_features, m.affine, m.track_running_stats
    if not (_is_int(n) and isinstance(affine, bool) and isinstance(track, bool)):
        return None
    expects = _affine(("weight", "bias"), (n,), "(num_features,)", "affine", affine)
    expects += _affine(("running_mean", "running_var"), (n,), "(num_features,)", "track_running_stats", track)
    expects += _affine(("num_batches_tracked",), (), "", "track_running_stats", track)
    return _Spec(
        base,
        (("num_features", n), ("affine", affine), ("track_running_stats", track)),
        tuple(expects),
    )


def _multihead_attention(m: Any) -> _Spec | None:
    e, kdim, vdim, same = m.embed_dim, m.kdim, m.vdim, m._qkv_same_embed_dim
    if not (_is_int(e, kdim, vdim) and isinstance(same, bool)):
        return None
    reason = "kdim == vdim == embed_dim" if same else "kdim or vdim differs from embed_dim"
    expects = [
        _Expect("in_proj_weight", (3 * e, e) if same else None, "(3 * embed_dim, embed_dim)", reason=reason),
        _Expect("q_proj_weight", None if same else (e, e), "(embed_dim, embed_dim)", reason=reason),
        _Expect("k_proj_weight", None if same else (e, kdim), "(embed_dim, kdim)", reason=reason),
        _Expect("v_proj_weight", None if same else (e, vdim), "(embed_dim, vdim)", reason=reason),
        # bias / add_bias_kv are not kept as flags: shapes are checked when the tensors exist.
        _Expect("in_proj_bias", (3 * e,), "(3 * embed_dim,)", required=False),
        _Expect("bias_k", (1, 1, e), "(1, 1, embed_dim)", required=False),
        _Expect("bias_v", (1, 1, e), "(1, 1, embed_dim)", required=False),
    ]
    config = (("embed_dim", e), ("num_heads", m.num_heads), ("kdim", kdim), ("vdim", vdim))
    return _Spec("MultiheadAttention", config, tuple(expects))


_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _rnn(m: Any, base: str) -> _Spec | None:
    mode, i, h, layers = m.mode, m.input_size, m.hidden_size, m.num_layers
    proj, bias, bidirectional = getattr(m, "proj_size", 0), m.bias, m.bidirectional
    if mode not in _GATES or not (_is_int(i, h, layers, proj) and isinstance(bias, bool)):
        return None
    gates = _GATES[mode]
    directions = 2 if bidirectional else 1
    real_h, real_name = (proj, "proj_size") if proj > 0 else (h, "hidden_size")
    rows = _times(gates, "hidden_size")
    expects: list[_Expect] = []
    for layer in range(layers):
        if layer == 0:
            layer_in, in_formula = i, "input_size"
        else:
            layer_in, in_formula = real_h * directions, _times(directions, real_name)
        for suffix in ("", "_reverse")[:directions]:
            tag = f"l{layer}{suffix}"
            expects.append(_Expect(f"weight_ih_{tag}", (gates * h, layer_in), f"({rows}, {in_formula})"))
            expects.append(_Expect(f"weight_hh_{tag}", (gates * h, real_h), f"({rows}, {real_name})"))
            expects += _affine((f"bias_ih_{tag}", f"bias_hh_{tag}"), (gates * h,), f"({rows},)", "bias", bias)
            on = proj > 0
            expects.append(
                _Expect(
                    f"weight_hr_{tag}",
                    (proj, h) if on else None,
                    "(proj_size, hidden_size)" if on else "",
                    reason="proj_size>0" if on else "proj_size=0",
                )
            )
    config = [("input_size", i), ("hidden_size", h), ("num_layers", layers)]
    if bidirectional:
        config.append(("bidirectional", True))
    if proj:
        config.append(("proj_size", proj))
    if not bias:
        config.append(("bias", False))
    return _Spec(base, tuple(config), tuple(expects))


def _rnn_cell(m: Any, base: str, gates: int) -> _Spec | None:
    i, h, bias = m.input_size, m.hidden_size, m.bias
    if not (_is_int(i, h) and isinstance(bias, bool)):
        return None
    rows = _times(gates, "hidden_size")
    expects = [
        _Expect("weight_ih", (gates * h, i), f"({rows}, input_size)"),
        _Expect("weight_hh", (gates * h, h), f"({rows}, hidden_size)"),
        *_affine(("bias_ih", "bias_hh"), (gates * h,), f"({rows},)", "bias", bias),
    ]
    return _Spec(base, (("input_size", i), ("hidden_size", h)), tuple(expects))


def _prelu(m: Any) -> _Spec | None:
    n = m.num_parameters
    if not _is_int(n):
        return None
    return _Spec("PReLU", (("num_parameters", n),), (_Expect("weight", (n,), "(num_parameters,)"),))


@cache
def _families() -> tuple[tuple[type, Callable[[Any], _Spec | None]], ...]:
    """(torch.nn class, spec function), most specific first: isinstance picks the first match."""
    from torch import nn
    from torch.nn.modules.batchnorm import _NormBase
    from torch.nn.modules.conv import _ConvNd

    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    table: list[tuple[type, Callable[[Any], _Spec | None]]] = [
        (nn.Linear, _linear),
        (nn.Bilinear, _bilinear),
        *[(cls, lambda m, base=cls.__name__: _conv(m, base)) for cls in conv],
        (_ConvNd, lambda m: _conv(m, "ConvNd")),
        (nn.Embedding, lambda m: _embedding(m, "Embedding")),
        (nn.EmbeddingBag, lambda m: _embedding(m, "EmbeddingBag")),
        (nn.LayerNorm, _layer_norm),
        (nn.GroupNorm, _group_norm),
        (nn.MultiheadAttention, _multihead_attention),
        (nn.PReLU, _prelu),
    ]
    if hasattr(nn, "RMSNorm"):  # torch >= 2.4
        table.append((nn.RMSNorm, _rms_norm))
    for name in (
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "SyncBatchNorm",
        "InstanceNorm1d",
        "InstanceNorm2d",
        "InstanceNorm3d",
    ):
        table.append((getattr(nn, name), lambda m, base=name: _batch_norm(m, base)))
    table.append((_NormBase, lambda m: _batch_norm(m, "BatchNorm")))
    for cls in (nn.LSTM, nn.GRU, nn.RNN):
        table.append((cls, lambda m, base=cls.__name__: _rnn(m, base)))
    table.append((nn.RNNBase, lambda m: _rnn(m, "RNNBase")))
    for cls, gates in ((nn.LSTMCell, 4), (nn.GRUCell, 3), (nn.RNNCell, 1)):
        table.append((cls, lambda m, base=cls.__name__, g=gates: _rnn_cell(m, base, g)))
    return tuple(table)


_MAKERS: dict[type, Any] = {}  # module class -> its family's spec maker (None: no family)


def _spec_for(module: Any) -> _Spec | None:
    cls = type(module)
    try:
        make = _MAKERS[cls]
    except KeyError:  # looked up once per class: most modules belong to no family
        make = _MAKERS[cls] = next((m for family, m in _families() if isinstance(module, family)), None)
    if make is None:
        return None
    try:
        return make(module)
    except AttributeError:  # a subclass that dropped part of the configuration
        return None


# -- comparing with what is registered --------------------------------------------------------------

_ABSENT = object()


def _registered(module: Any, name: str) -> Any:
    """The registered tensor (or None) under `name`; _ABSENT when `name` is not registered at all
    (weight_norm, spectral_norm and prune turn it into a plain attribute computed by a hook)."""
    if name in module._parameters:
        return module._parameters[name]
    if name in module._buffers:
        return module._buffers[name]
    return _ABSENT


def _is_parametrized(module: Any, name: str) -> bool:
    # parametrize may store `original` in any shape (right_inverse decides): nothing to compare.
    holder = module._modules.get("parametrizations")
    return holder is not None and name in holder._modules


def _label(module: Any, spec: _Spec) -> str:
    config = ", ".join(f"{k}={v}" for k, v in spec.config)
    cls = type(module)
    if cls.__name__ == spec.base and cls.__module__.startswith("torch.nn."):
        return f"nn.{spec.base}({config})"
    return f"{cls.__name__}(nn.{spec.base}, {config})"


def _formula(expect: _Expect) -> str:
    return f" = {expect.formula}" if expect.formula else ""


def _problem(value: Any, expect: _Expect, presence: bool) -> str | None:
    """What is wrong when `value` contradicts `expect` (the message without the tensor's
    name, which is formatted only then), else None. `presence`: also report a tensor that is
    None where the configuration requires one, or present where it says None."""
    import torch
    from torch.nn.parameter import UninitializedTensorMixin

    if value is None:
        if not presence or expect.shape is None or not expect.required:
            return None
        why = f" ({expect.reason})" if expect.reason else ""
        return f" is None, expected shape {expect.shape}{_formula(expect)}{why}"
    if isinstance(value, UninitializedTensorMixin):
        return None
    # Tensor subclasses (packed or quantized weights, DTensor, ...) may report a storage shape.
    if type(value) not in (torch.Tensor, torch.nn.Parameter):
        return None
    # DeepSpeed ZeRO-3 partitions a parameter to an empty tensor and keeps its shape in ds_shape.
    found = tuple(getattr(value, "ds_shape", None) or value.shape)
    if expect.shape is None:
        if not presence:
            return None
        return f" is a tensor of shape {found}, but {expect.reason} means it should be None"
    if found != expect.shape:
        return f" has shape {found}, expected {expect.shape}{_formula(expect)}"
    return None


def _named_modules(model: Any) -> Iterator[tuple[str, Any]]:
    """named_modules() order, without its recursion (1,000+ nested Sequentials) and without
    hashing modules (a class may set `__hash__ = None`)."""
    seen: set[int] = set()
    stack = [("", model)]
    while stack:
        path, module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        yield path, module
        children = getattr(module, "_modules", None) or {}
        prefix = f"{path}." if path else ""
        stack.extend((prefix + name, child) for name, child in reversed(children.items()) if child is not None)


def _iter_findings(model: Any, inventory: Any) -> Iterator[Finding]:
    from torch.nn.modules.lazy import LazyModuleMixin

    from paraminspect.checks.engine import locate

    for path, module in _named_modules(model):
        spec = _spec_for(module)
        if spec is None:
            continue
        if isinstance(module, LazyModuleMixin) and module.has_uninitialized_params():
            continue  # the configuration is not known until the first forward
        # A subclass may drop or add what its base creates (timm's GroupNorm1NoBias sets
        # `self.bias = None`): presence is checked on torch's own classes only, shapes on all.
        presence = is_torch_class(type(module))
        for expect in spec.expects:
            if _is_parametrized(module, expect.attribute):
                continue
            value = _registered(module, expect.attribute)
            if value is _ABSENT:
                continue
            problem = _problem(value, expect, presence)
            if problem is None:
                continue
            message = f"{_label(module, spec)}.{expect.attribute}{problem}"
            # `self.linear1.weight = ...` in the nearest ancestor's class, else the module's own
            location = locate(inventory, path, expect.attribute, parents_first=True)
            yield Finding(
                code=CODE,
                severity=ERROR,
                module=path,
                attribute=expect.attribute,
                names=(f"{path}.{expect.attribute}" if path else expect.attribute,),
                message=message,
                file=location.file if location else None,
                line=location.line if location else None,
            )


def check_shapes(ctx: Any) -> list[Finding]:
    """PI011 over `ctx.model` (an nn.Module; no model, no findings)."""
    if ctx.model is None:
        return []
    import torch

    if not isinstance(ctx.model, torch.nn.Module):
        return []
    return list(_iter_findings(ctx.model, ctx.inventory))


_EXPLANATION = """\
A torch.nn layer creates its parameters from its own configuration: nn.Linear(in_features,
out_features) owns a weight of shape (out_features, in_features) and a bias of shape
(out_features,); a convolution's weight is (out_channels, in_channels // groups, *kernel_size);
a BatchNorm with affine=False has no weight at all. Replacing one of these tensors by hand is
allowed (PyTorch checks nothing on assignment), so a wrong shape goes unnoticed: the model
builds, summaries list it, state_dict saves it, and it fails only at the first forward, or,
when the two sizes happen to be equal, silently computes with the transpose. (The
nn.Parameter tutorial's NN_Network replaces nn.Linear weights with tensors of shape
(in_dim, hid).)

Fix: create the replacement in the layer's own layout, (out_features, in_features) for
nn.Linear, or initialise the layer's own tensor in place (nn.init.zeros_(layer.weight)).

Checked: Linear, Bilinear, Conv1d/2d/3d, ConvTranspose1d/2d/3d, Embedding, EmbeddingBag,
LayerNorm, RMSNorm, GroupNorm, BatchNorm/InstanceNorm (weight, bias, running statistics),
MultiheadAttention (in_proj_weight or q/k/v_proj_weight, in_proj_bias, bias_k/bias_v),
LSTM/GRU/RNN and their cells (per layer and direction, proj_size), PReLU. Subclasses are
checked for the shapes of the attributes the base class owns; whether a tensor exists at all
(affine, track_running_stats, bias) is checked on torch's own classes only. Skipped: lazy modules before their first
forward, tensor subclasses (packed/quantized weights), attributes reparametrized with
torch.nn.utils.parametrize, and weight_norm / spectral_norm / prune reparametrizations.
"""

RULES = [
    Rule(
        code=CODE,
        name="shape-contradicts-module",
        severity=ERROR,
        summary="A built-in layer's parameter or buffer has a shape its configuration contradicts.",
        explanation=_EXPLANATION,
        check=check_shapes,
        examples=(
            Example(
                example_source("self.linear = nn.Linear(5, 2)\nself.linear.weight = nn.Parameter(torch.zeros(5, 2))"),
                example_source("self.linear = nn.Linear(5, 2)\nself.linear.weight = nn.Parameter(torch.zeros(2, 5))"),
                "linear.weight",
                line="self.linear.weight =",
                title="nn.Linear's weight is (out_features, in_features)",
            ),
            Example(
                example_source(
                    "self.norm = nn.BatchNorm1d(4, affine=False)\nself.norm.weight = nn.Parameter(torch.ones(4))"
                ),
                example_source("self.norm = nn.BatchNorm1d(4)"),
                "norm.weight",
                line="self.norm.weight =",
                title="a tensor the configuration says is not there (affine=False)",
            ),
            Example(
                example_source("self.linear2 = nn.Linear(2, 3)\nself.linear2.weight = nn.Parameter(torch.zeros(5, 2))"),
                example_source("self.linear2 = nn.Linear(2, 3)\nnn.init.zeros_(self.linear2.weight)"),
                "linear2.weight",
                line="self.linear2.weight =",
                title=(
                    "the nn.Parameter tutorial's second layer: (5, 2) is not even the transpose of the "
                    "expected (3, 2); initialising the layer's own weight in place keeps its shape"
                ),
            ),
        ),
    )
]
