"""Abstract values of the static pass: what an expression certainly is, as small JSON-able
tuples, and the torch knowledge that decides it (no torch import: names only).

A value is one of
    ("T", grad, id)       a plain torch.Tensor; grad: 0 no requires_grad, 1 requires_grad, 2 unknown
    ("P", id)             an nn.Parameter          ("BUF", id)  an nn.Buffer
    ("M", id)             an nn.Module instance    ("N",) None   ("O",) certainly not a tensor
    ("U",)                unknown                  ("SELF",) the module itself
    ("L", kind, elems, id) a Python list/tuple/dict/set/generator; elems: [value, key, many]
and, where the answer depends on other code (resolved later by `resolve`):
    ("S", attr)           what self.attr holds at that point
    ("C", ref, id)        a call of a name (a class of the project or a library)
    ("D", op, base, nograd)  a tensor method/attribute/indexing applied to such a value
    ("OP", values, nograd, torch_fn)  an operation on several values
    ("OR", values)        one of several values (a conditional expression)
`id` is "line:col" of the expression that made the object: the same id is the same object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Value = Any  # a tuple (or, read back from JSON, a list) as described above

U: Value = ("U",)
N: Value = ("N",)
OTHER: Value = ("O",)
SELF: Value = ("SELF",)
MAX_ELEMS = 64  # a container literal longer than this keeps its first elements only
MAX_DEPTH = 12


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# torch functions that return a new tensor that does not require grad unless told to.
FACTORIES = words(
    """zeros ones empty full rand randn randint randperm arange range linspace logspace eye tensor
    zeros_like ones_like empty_like full_like rand_like randn_like randint_like empty_strided
    tril_indices triu_indices from_numpy frombuffer scalar_tensor normal bernoulli multinomial
    hann_window hamming_window blackman_window bartlett_window kaiser_window"""
)  # fmt: skip
# Legacy tensor constructors: torch.FloatTensor(2, 3) etc.
LEGACY = words(
    """Tensor FloatTensor DoubleTensor HalfTensor BFloat16Tensor LongTensor IntTensor ShortTensor
    ByteTensor CharTensor BoolTensor"""
)  # fmt: skip
# torch functions whose result is a new tensor computed from their (tensor) arguments.
TENSOR_FUNCTIONS = words(
    """cat concat concatenate stack hstack vstack dstack exp exp2 expm1 log log2 log10 log1p sin cos
    tan tanh sinh cosh asin acos atan atan2 sigmoid sqrt rsqrt pow square outer ger einsum matmul mm
    bmm mv dot where tril triu diag diag_embed diagflat flip fliplr flipud roll cumsum cumprod
    clamp clip abs neg negative reciprocal floor ceil round trunc frac sign masked_fill gather
    index_select repeat_interleave cartesian_prod erf erfc erfinv maximum minimum softmax log_softmax
    view_as_real view_as_complex reshape flatten squeeze unsqueeze transpose permute t narrow kron
    cross cdist bucketize searchsorted argsort argmax argmin mul multiply add sub subtract div divide
    true_divide floor_divide remainder fmod lerp logical_not logical_and logical_or bitwise_and
    bitwise_or bitwise_not eq ne lt le gt ge isfinite isnan isinf nan_to_num polar complex clone
    detach sum mean prod std var norm logsumexp heaviside hypot rad2deg deg2rad sinc xlogy
    block_diag rot90 tile broadcast_to movedim moveaxis swapaxes swapdims take take_along_dim
    vander tensordot chain_matmul addmm baddbmm addcmul addcdiv"""
)  # fmt: skip
# torch names whose call is certainly not a tensor (traps: never flagged).
NOT_TENSORS = words(
    """Size device dtype finfo iinfo Generator get_default_dtype get_default_device is_tensor
    is_floating_point is_complex numel is_grad_enabled manual_seed initial_seed typename
    result_type promote_types can_cast set_default_dtype get_rng_state"""
)  # fmt: skip
# torch.nn modules that hold no tensor and never read `.training`: unregistered, they lose
# nothing (the built check, checks/unregistered._inert, decides the same by looking).
INERT_MODULES = words(
    """ReLU ReLU6 GELU SiLU Mish Tanh Sigmoid LogSigmoid Hardtanh Hardswish Hardsigmoid LeakyReLU ELU
    SELU CELU GLU Softplus Softsign Softmax Softmax2d LogSoftmax Softmin Tanhshrink Threshold
    Hardshrink Softshrink Identity Flatten Unflatten Upsample UpsamplingNearest2d
    UpsamplingBilinear2d PixelShuffle PixelUnshuffle ChannelShuffle MaxPool1d MaxPool2d MaxPool3d
    AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d
    AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d LPPool1d LPPool2d ZeroPad1d ZeroPad2d
    ZeroPad3d ConstantPad1d ConstantPad2d ConstantPad3d ReflectionPad1d ReflectionPad2d
    ReflectionPad3d ReplicationPad1d ReplicationPad2d ReplicationPad3d CircularPad1d CircularPad2d
    CircularPad3d CosineSimilarity PairwiseDistance"""
)  # fmt: skip
# Losses that hold a tensor only when one is passed (`weight=`, `pos_weight=`): inert without.
INERT_WITHOUT_ARGUMENTS = words(
    """MSELoss L1Loss SmoothL1Loss HuberLoss BCELoss BCEWithLogitsLoss CrossEntropyLoss NLLLoss
    KLDivLoss CosineEmbeddingLoss MarginRankingLoss HingeEmbeddingLoss SoftMarginLoss
    TripletMarginLoss PoissonNLLLoss GaussianNLLLoss"""
)  # fmt: skip
# torch.nn.init functions return the tensor they fill, in place.
INIT_IN_PLACE = "torch.nn.init."
# Tensor methods.
KEEP_OBJECT = words(
    """to float double half bfloat16 long int short bool byte char type_as cpu cuda contiguous
    pin_memory requires_grad_ share_memory_"""
)  # fmt: skip  (may return the tensor itself: on a Parameter, still a Parameter)
NEW_TENSOR = words(
    """view view_as reshape reshape_as unsqueeze squeeze expand expand_as repeat repeat_interleave
    permute transpose t flatten unflatten clone mul add sub div pow exp log sin cos tan tanh sigmoid
    sqrt rsqrt abs neg sum mean cumsum cumprod masked_fill index_select gather narrow tril triu
    diag matmul mm bmm softmax log_softmax clamp clip floor ceil round trunc sign reciprocal flip
    roll square norm prod std var outer argsort argmax argmin eq ne lt le gt ge logical_not
    bitwise_not float_power exp2 log2 log10 log1p expm1 erf erfinv masked_select nan_to_num
    movedim swapaxes swapdims tile broadcast_to unfold select index_fill index_add index_copy
    scatter scatter_add masked_scatter where type"""
)  # fmt: skip
FRESH = words("new_zeros new_ones new_empty new_full new_tensor detach")
IN_PLACE_SUFFIX = "_"  # mul_, fill_, zero_, normal_, uniform_, copy_, clamp_ ...: the same object
NOT_TENSOR_METHODS = words(
    """tolist item size numel dim ndimension nelement element_size data_ptr is_contiguous stride
    storage_offset get_device is_floating_point is_complex nbytes itemsize untyped_storage
    __len__ numpy"""
)  # fmt: skip
TENSOR_ATTRIBUTES = frozenset({"T", "mT", "H", "mH", "real", "imag"})
NOT_TENSOR_ATTRIBUTES = words(
    """shape dtype device ndim is_cuda is_meta is_leaf requires_grad grad_fn layout names
    is_sparse is_quantized"""
)  # fmt: skip
GRAD_OFF = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad"})


def kind(value: Value) -> str:
    return value[0]


def is_tensor(value: Value) -> bool:
    return value[0] in ("T", "P", "BUF")


def grad_of(value: Value) -> int:
    """requires_grad of an operand of an operation: 0, 1, or 2 (unknown)."""
    k = value[0]
    if k == "T":
        return value[1]
    if k == "O" or k == "N":
        return 0
    return 2  # a Parameter (trainable unless frozen), a buffer that may require grad, unknown


def operation(values: list[Value], nograd: bool, torch_fn: bool) -> Value:
    """A tensor operation (`a * b`, torch.cat([...]), F.pad(x, ...)) on concrete values: a new
    tensor when one operand is certainly a tensor (or a torch function made it), else
    not a tensor when every operand is certainly not one, else unknown."""
    flat: list[Value] = []
    for v in values:
        if v[0] == "L":
            flat.extend(e[0] for e in v[2])
        else:
            flat.append(v)
    if not torch_fn and not any(is_tensor(v) for v in flat):
        return OTHER if flat and all(v[0] in ("O", "N") for v in flat) else U
    if nograd:
        return ("T", 0, "")
    grads = [grad_of(v) for v in flat if v[0] != "O"]
    return ("T", 1 if 1 in grads else (2 if 2 in grads else 0), "")


def method(base: Value, name: str, nograd: bool, ident: str, flag: int = 1) -> Value:
    """`base.name(...)` for a concrete base. `flag`: requires_grad_'s argument (0, 1, 2 unknown)."""
    k = base[0]
    if name in NOT_TENSOR_METHODS and k in ("T", "P", "BUF"):
        return OTHER
    if k == "T":
        if name == "requires_grad_":
            return ("T", flag, base[2])
        if name in KEEP_OBJECT or (name.endswith(IN_PLACE_SUFFIX) and not name.startswith("_")):
            return base
        if name in FRESH:
            return ("T", 0, ident)
        if name in NEW_TENSOR:
            return ("T", 0 if nograd else base[1], ident)
        return U
    if k in ("P", "BUF"):
        if name.endswith(IN_PLACE_SUFFIX) and name not in KEEP_OBJECT and not name.startswith("_"):
            return base
        if name in FRESH:
            return ("T", 0, ident)
        if name in NEW_TENSOR and name != "type":
            return ("T", 0 if nograd else 2, ident)
        return U
    return U


def attribute(base: Value, name: str, ident: str) -> Value:
    k = base[0]
    if k in ("T", "P", "BUF"):
        if name in NOT_TENSOR_ATTRIBUTES:
            return OTHER
        if name == "data":
            return ("T", 0, ident)
        if name in TENSOR_ATTRIBUTES:
            return ("T", base[1] if k == "T" else 2, ident)
    return U


def item(base: Value, key: str | None, ident: str) -> Value:
    """`base[key]` (`key`: a constant index or key as text, else None)."""
    k = base[0]
    if k == "T":
        return ("T", base[1], ident)
    if k in ("P", "BUF"):
        return ("T", 2, ident)
    if k == "L" and key is not None:
        for elem, elem_key, many in base[2]:
            if many:
                return U
            if elem_key == key:
                return elem
    return U


def either(values: list[Value]) -> Value:
    """One of several values: the same value once, else an OR (flattened, at most 8)."""
    out: list[Value] = []
    for v in values:
        for w in v[1] if v[0] == "OR" else [v]:
            if w not in out:
                out.append(w)
    if len(out) > 1 and all(w[0] == "L" for w in out) and len({w[3] for w in out}) == 1:
        # one list filled on some paths only (appends in a loop or a branch): its entries on any path
        longest = max(out, key=lambda w: len(w[2]))
        elems = list(longest[2])
        for w in out:
            elems.extend([e[0], None, True] for e in w[2] if e not in longest[2])
        return ("L", longest[1], elems, longest[3])
    if len(out) == 1:
        return out[0]
    return ("OR", out) if len(out) <= 8 else U


def is_symbolic(value: Value, depth: int = 0) -> bool:
    k = value[0]
    if k in ("S", "C", "D", "OP"):
        return True
    if depth > MAX_DEPTH:
        return False
    if k == "OR":
        return any(is_symbolic(v, depth + 1) for v in value[1])
    if k == "L":
        return any(is_symbolic(e[0], depth + 1) for e in value[2])
    return False


def resolve(value: Value, read: Callable[[str], Value], call: Callable[[str, str], Value], depth: int = 0) -> Value:
    """The concrete value of `value`, with `read(attr)` for self.attr and `call(ref, id)` for
    a call of a name."""
    k = value[0]
    if depth > MAX_DEPTH:
        return U
    if k == "S":
        return read(value[1])
    if k == "C":
        return call(value[1], value[2])
    if k == "D":
        op, base, nograd = value[1], resolve(value[2], read, call, depth + 1), value[3]
        return _derived(op, base, nograd)
    if k == "OP":
        return operation([resolve(v, read, call, depth + 1) for v in value[1]], value[2], value[3])
    if k == "OR":
        return either([resolve(v, read, call, depth + 1) for v in value[1]])
    if k == "L":
        elems = [[resolve(e[0], read, call, depth + 1), e[1], e[2]] for e in value[2]]
        return ("L", value[1], elems, value[3])
    return value


def _derived(op: list[Any] | tuple[Any, ...], base: Value, nograd: bool) -> Value:
    """Apply a recorded tensor step (see `derive`) to a now concrete base."""
    what = op[0]
    if base[0] == "OR":
        return either([_derived(op, b, nograd) for b in base[1]])
    if what == "call":
        return method(base, op[1], nograd, op[2], op[3])
    if what == "attr":
        return attribute(base, op[1], op[2])
    if what == "item":
        return item(base, op[1], op[2])
    return U


def derive(base: Value, op: tuple[Any, ...], nograd: bool) -> Value:
    """A tensor step on `base`: computed now when base is concrete, else recorded."""
    if base[0] in ("U", "O", "N", "M"):
        return U
    if is_symbolic(base):
        return ("D", op, base, nograd)
    return _derived(op, base, nograd)
