"""Skip weight initialisation while a model is built on the meta device.

A meta tensor has a shape, a dtype and no values, so initialising it is pointless, yet it is
not free: torch computes many meta results with Python reference kernels (a meta `normal_`
takes about 0.4 ms), and the first `normal_`, `erfinv_`, `clamp_`, `exponential_`, `randn`,
`randint` or `randn_like` on meta imports torch._dynamo or sympy (about 1 s and ~900
modules; one `nn.Embedding` is enough).

`skip_meta_init()` uses torch's own interception points, no patching. A TorchDispatchMode,
below autograd, answers the value-only operations in the tables below without computing
anything when they write or create a meta tensor: in-place initialisers return the tensor
itself; random factories, `arange`/`linspace`, and arithmetic with a scalar
(`torch.randn(...) * 0.02`) return an empty meta tensor with exactly the shape, dtype, layout
and strides torch would give. Autograd and version counters still see the in-place ops (a leaf
that requires grad still refuses one outside no_grad, as it would); every other operation,
every tensor on another device, and every case whose plain meta kernel would raise (an
integer tensor given `normal_`, a non-scalar operand) goes to torch untouched. A dispatch mode
costs ~7 µs on every aten op, so a TorchFunctionMode enables it only around the Python-level
calls that may reach those ops (`Tensor.normal_`, `torch.randn`, `nn.init.*`, ...): a model of
50,000 tiny tensors builds no slower than without it. The function mode itself answers the
cases that need no more than a version bump: a plain-scalar in-place initialiser on a meta
tensor with nothing for autograd to record, and `t[i, j] = number` at integer indices within
the shape (lookup tables filled one element at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from paraminspect.collector import collector_paused

__all__ = ["meta_device_without_init", "skip_meta_init"]

_aten = torch.ops.aten

# In-place ops that only change the values of `self` (the result is `self`, same metadata):
# the random fills and the building blocks of trunc_normal_-style initialisers. `copy_`,
# `fill_` and `zero_` have C++ meta kernels that are already cheap and check broadcasting
# and casting, so they stay with torch.
_VALUE_ONLY_INPLACE = frozenset(
    {
        _aten.normal_.default,
        _aten.uniform_.default,
        _aten.exponential_.default,
        _aten.cauchy_.default,
        _aten.log_normal_.default,
        _aten.geometric_.default,
        _aten.bernoulli_.float,
        _aten.random_.default,
        _aten.random_.to,
        getattr(_aten.random_, "from"),  # `from` is a Python keyword
        _aten.erfinv_.default,
        _aten.clamp_.default,
        _aten.clamp_min_.default,
        _aten.clamp_max_.default,
        _aten.mul_.Scalar,
        _aten.mul_.Tensor,
        _aten.add_.Scalar,
        _aten.add_.Tensor,
        _aten.sub_.Scalar,
        _aten.sub_.Tensor,
        _aten.div_.Scalar,
        _aten.div_.Tensor,
    }
)

# Random factories whose result shape is given by a `size` argument (or by `self` for the
# *_like ones): an empty tensor with the same metadata replaces the sample.
_SIZED_FACTORIES = frozenset(
    {
        _aten.randn.default,
        _aten.randn.generator,
        _aten.rand.default,
        _aten.rand.generator,
        _aten.randint.default,
        _aten.randint.generator,
        _aten.randint.low,
        _aten.randint.low_generator,
        _aten.normal.float_float,
    }
)
_LIKE_FACTORIES = frozenset(
    {
        _aten.randn_like.default,
        _aten.randn_like.generator,
        _aten.rand_like.default,
        _aten.rand_like.generator,
        _aten.randint_like.default,
        _aten.randint_like.generator,
        _aten.randint_like.low_dtype,
        _aten.randint_like.low_generator_dtype,
    }
)
# `torch.randn(...) * 0.02`: out-of-place arithmetic of a meta tensor with a scalar (its meta
# kernel is a Python reference that imports torch._dynamo); the result has the tensor's shape.
_SCALAR_ARITHMETIC = frozenset(
    {
        _aten.mul.Tensor,
        _aten.mul.Scalar,
        _aten.add.Tensor,
        _aten.add.Scalar,
        _aten.sub.Tensor,
        _aten.sub.Scalar,
        _aten.div.Tensor,
        _aten.div.Scalar,
    }
)
# Deterministic ranges (position indices, frequency tables): their length follows from the
# arguments, computed here only for the plain cases (integer `arange` bounds, `linspace` and
# `logspace` steps); anything else goes to torch.
_RANGES = frozenset(
    {_aten.arange.default, _aten.arange.start, _aten.arange.start_step, _aten.linspace.default, _aten.logspace.default}
)
_EXACT_LIMIT = 2**24  # every integer below it is exact in float32 too, whatever dtype arange counts in
_INTEGER_RESULT = frozenset({_aten.randint.default.overloadpacket, _aten.randint_like.default.overloadpacket})


def _bind(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Arguments by schema name (dispatch passes positional ones positionally, kwarg-only ones by name)."""
    bound = {}
    for i, argument in enumerate(func._schema.arguments):
        if i < len(args) and not argument.kwarg_only:
            bound[argument.name] = args[i]
        elif argument.name in kwargs:
            bound[argument.name] = kwargs[argument.name]
    return bound


def _scalar_like(value: Any) -> bool:
    """A real number, or a 0-dim real tensor: operands that never change `self`'s metadata."""
    if isinstance(value, torch.Tensor):
        return value.dim() == 0 and not value.is_complex()
    return value is None or isinstance(value, (bool, int, float, str, torch.Generator))


def _is_meta(device: Any) -> bool:
    return device is not None and torch.device(device).type == "meta"


def _result_dtype_ok(func: Any, dtype: torch.dtype) -> bool:
    if func.overloadpacket in _INTEGER_RESULT:
        return not dtype.is_complex and dtype is not torch.bool
    return dtype.is_floating_point


def _range_result(func: Any, bound: dict[str, Any]) -> tuple[int, torch.dtype] | None:
    """(length, dtype) of a plain arange/linspace/logspace, or None when torch should decide."""
    dtype = bound.get("dtype")
    if func.overloadpacket is _aten.arange:
        start, end, step = bound.get("start", 0), bound["end"], bound.get("step", 1)
        if not all(type(v) is int and abs(v) < _EXACT_LIMIT for v in (start, end, step)):
            return None
        if step == 0 or (end - start) * step < 0:  # torch raises for these
            return None
        if dtype not in (None, torch.int64, torch.int32, torch.float32, torch.float64):
            return None
        return -((start - end) // step), dtype or torch.int64  # ceil((end - start) / step)
    start, end, steps = bound["start"], bound["end"], bound["steps"]
    if not all(type(v) in (int, float) for v in (start, end)) or type(steps) is not int or steps < 0:
        return None
    dtype = dtype or torch.get_default_dtype()
    return (steps, dtype) if dtype.is_floating_point else None


class _SkipMetaInit(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # TorchDispatchMode wraps subclasses' __torch_dispatch__ in torch._disable_dynamo,
        # whose first call imports torch._dynamo: the very cost this mode exists to avoid.
        # Nothing here is ever compiled. (On a torch without this hook the wrap stays: slower,
        # still correct.)
        return False

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in _VALUE_ONLY_INPLACE:
            target = args[0]
            if (
                target.is_meta
                and target.is_floating_point()
                and all(_scalar_like(a) for a in args[1:])
                and all(_scalar_like(v) for v in kwargs.values())
            ):
                return target
        elif func in _SCALAR_ARITHMETIC:
            source = args[0]
            if (
                source.is_meta
                and source.is_floating_point()
                and source.layout == torch.strided
                and source.is_contiguous()
                and all(_scalar_like(a) for a in args[1:])
                and all(_scalar_like(v) for v in kwargs.values())
            ):
                dtype = torch.result_type(source, args[1])  # torch's own promotion rules
                if dtype.is_floating_point:
                    return _aten.empty.memory_format(source.shape, dtype=dtype, device=source.device)
        elif func in _SIZED_FACTORIES:
            bound = _bind(func, args, kwargs)
            if _is_meta(bound.get("device")):
                dtype = bound.get("dtype")
                if dtype is None:
                    dtype = torch.int64 if func.overloadpacket in _INTEGER_RESULT else torch.get_default_dtype()
                if _result_dtype_ok(func, dtype):
                    return _aten.empty.memory_format(
                        bound["size"],
                        dtype=dtype,
                        layout=bound.get("layout"),
                        device=bound["device"],
                        pin_memory=bound.get("pin_memory"),
                    )
        elif func in _RANGES:
            bound = _bind(func, args, kwargs)
            result = _range_result(func, bound) if _is_meta(bound.get("device")) else None
            if result is not None:
                return _aten.empty.memory_format(
                    [result[0]],
                    dtype=result[1],
                    layout=bound.get("layout"),
                    device=bound["device"],
                    pin_memory=bound.get("pin_memory"),
                )
        elif func in _LIKE_FACTORIES:
            bound = _bind(func, args, kwargs)
            like = bound["self"]
            device = bound.get("device") or like.device
            dtype = bound.get("dtype") or like.dtype
            # empty_like's meta kernel is a Python reference too: for the common case (a
            # contiguous `self`, strides preserved) a plain empty gives the same metadata.
            if (
                _is_meta(device)
                and _result_dtype_ok(func, dtype)
                and bound.get("memory_format") in (None, torch.preserve_format)
                and like.is_contiguous()
                and like.layout == torch.strided
            ):
                return _aten.empty.memory_format(
                    like.shape,
                    dtype=dtype,
                    layout=bound.get("layout"),
                    device=device,
                    pin_memory=bound.get("pin_memory"),
                )
        return func(*args, **kwargs)


# Tensor methods whose aten ops are all in _VALUE_ONLY_INPLACE: called on a meta tensor with
# plain scalars, they are answered before a dispatch mode is even pushed (_answered_here).
_VALUE_ONLY_METHODS = frozenset(
    getattr(torch.Tensor, name, None)
    for name in (
        *("normal_", "uniform_", "exponential_", "cauchy_", "log_normal_", "geometric_", "bernoulli_", "random_"),
        *("erfinv_", "clamp_", "clamp_min_", "clamp_max_", "clip_", "mul_", "multiply_", "add_", "sub_"),
        *("subtract_", "div_", "divide_", "true_divide_", "__imul__", "__iadd__", "__isub__", "__itruediv__"),
    )
) - {None}
# nn.init functions that only call ops torch already answers cheaply on meta (fill_, zero_,
# eye): gating them would only add the cost of a dispatch mode.
_CHEAP_INITS = ("constant_", "zeros_", "ones_", "eye_", "dirac_")
_PLAIN_SCALARS = (bool, int, float, str, torch.Generator)
_NUMBERS = frozenset({bool, int, float})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)
_SETITEM = torch.Tensor.__setitem__  # element writes: see _setitem_answered_here


def _python_calls() -> frozenset[Any]:
    """The Python-level entry points that reach the ops above: Tensor methods and in-place
    operators, torch.* functions, and torch.nn.init's functions (calls nested inside a
    function that the mode handles do not come back to the mode, so the initialisers are
    gated as a whole). One missing here only costs speed: the op then runs as usual."""
    tensor_methods = ["mul", "multiply", "add", "sub", "subtract", "div", "divide", "true_divide"]
    tensor_methods += ["__mul__", "__rmul__", "__add__", "__radd__", "__sub__", "__truediv__"]
    functions = ["randn", "rand", "randint", "normal", "randn_like", "rand_like", "randint_like", "clamp_", "clip_"]
    functions += ["mul", "multiply", "add", "sub", "subtract", "div", "divide", "true_divide"]
    functions += ["arange", "linspace", "logspace"]
    calls = [getattr(torch.Tensor, name, None) for name in tensor_methods]
    calls += [getattr(torch, name, None) for name in functions]
    init = torch.nn.init
    calls += [getattr(init, n) for n in dir(init) if n.endswith("_") and n[0] != "_" and n not in _CHEAP_INITS]
    return frozenset(c for c in calls if callable(c)) | _VALUE_ONLY_METHODS | {_SETITEM}


_INIT_CALLS = _python_calls()


def _answered_here(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a value-only in-place method can return `self` at once: what _SkipMetaInit
    would answer (a floating meta tensor, plain scalar operands) in a case where autograd
    would do nothing but bump the version counter (no grad required, or grad mode off)."""
    if func not in _VALUE_ONLY_METHODS or not args:
        return False
    target = args[0]
    return (
        type(target) in _PLAIN_TENSORS
        and target.is_meta
        and target.is_floating_point()
        and not target.is_inference()
        and not (target.requires_grad and torch.is_grad_enabled())
        and all(a is None or type(a) in _PLAIN_SCALARS for a in args[1:])
        and all(v is None or type(v) in _PLAIN_SCALARS for v in kwargs.values())
    )


def _setitem_answered_here(args: tuple[Any, ...]) -> bool:
    """Whether `t[i, j] = 1` needs no more than a version bump: a meta tensor, a plain number,
    integer indices within the shape (anything else, an index out of range included, goes
    to torch for its own result or error), and nothing for autograd to record. Models fill
    lookup tables one element at a time (timm's maxvit: ~25,000 of them, ~8 µs each on meta)."""
    if len(args) != 3:
        return False
    target, index, value = args
    if type(value) not in _NUMBERS or type(target) not in _PLAIN_TENSORS or not target.is_meta:
        return False
    if type(value) is int and not _INT64_MIN <= value <= _INT64_MAX:  # torch refuses to unpack it
        return False
    if target.is_inference() or (target.requires_grad and torch.is_grad_enabled()):
        return False
    if type(index) is int:
        index = (index,)
    elif type(index) is not tuple:
        return False
    shape = target.shape
    if len(index) > len(shape):
        return False
    return all(type(i) is int and -size <= i < size for i, size in zip(index, shape, strict=False))


def _gated_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """An initialiser call on meta (or an element write): answered here, or run under
    _SkipMetaInit."""
    if func is _SETITEM:
        if not kwargs and _setitem_answered_here(args):
            _increment_version((args[0],))  # as the in-place fill would
            return None
        return func(*args, **kwargs)  # no initialiser inside: nothing for _SkipMetaInit
    if _answered_here(func, args, kwargs):
        _increment_version((args[0],))  # as the in-place op itself would
        return args[0]
    with _SkipMetaInit():  # a fresh instance each time: dispatch modes are not reentrant
        return func(*args, **kwargs)


_increment_version = torch._C._increment_version


class _InitCallsOnly(TorchFunctionMode):
    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        if func in _INIT_CALLS:
            return _gated_call(func, args, kwargs or {})
        return func(*args, **(kwargs or {}))


def skip_meta_init() -> AbstractContextManager[Any]:
    """A context manager: while it is active, initialising meta tensors costs nothing.

    Use it inside `torch.device("meta")` around a model's constructor; one instance per use."""
    return _InitCallsOnly()


def _meta_device_class() -> Any:
    """torch.device("meta") and skip_meta_init() as one mode: a subclass of torch's own
    DeviceContext (so torch.get_default_device() and nested `with torch.device(...)` blocks
    see it as the default device) that also gates the initialiser calls. Two stacked Python
    modes cost two Python frames on every torch call of the build: ~0.5 s of the 50,000
    tensor model. None where this torch has no DeviceContext to extend."""
    try:
        from torch.utils._device import DeviceContext, _device_constructors
    except ImportError:
        return None
    constructors = _device_constructors()

    class MetaDevice(DeviceContext):
        def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            if func in constructors and kwargs.get("device") is None:
                kwargs["device"] = self.device
            if func in _INIT_CALLS:
                return _gated_call(func, args, kwargs)
            return func(*args, **kwargs)

    return MetaDevice


_MetaDevice = _meta_device_class()


@contextmanager
def meta_device_without_init() -> Iterator[None]:
    """`with torch.device("meta"), skip_meta_init():` in one mode (see _meta_device_class),
    with the cyclic collector paused (paraminspect.collector): a build on meta allocates no
    tensor memory, and the collector's passes over tens of thousands of new modules cost
    more than the build."""
    with collector_paused():
        if _MetaDevice is None:
            with torch.device("meta"), skip_meta_init():
                yield
        else:
            with _MetaDevice("meta"):
                yield
