"""One forward pass of a model on an example input, measured: per module the output shapes,
FLOPs (torch.utils.flop_counter.FlopCounterMode's count), calls and train/eval mode; in all,
FLOPs, input bytes and activation bytes per dtype. Returns plain data (stats_data.py).

Where it runs: on the meta device, whatever device the model is on. The model's parameters and
buffers are stood in for by meta tensors of the same shapes, dtypes and strides for the
duration of the call (torch.func.functional_call, which keeps tied weights tied and nn.LSTM's
flat weights in step), so no weight and no activation is allocated and a 70B model runs in the
memory of its module objects. Where meta cannot run it (an op with no meta kernel, a tensor the
forward makes on CPU and mixes in), it runs under FakeTensorMode with fake CPU tensors (nothing
allocated either), and last on real CPU tensors when its parameters and buffers fit a size
limit; the result says which, with a note.

The model is left exactly as found (forward/preserve.py): modes, hooks, attributes,
requires_grad, grads, devices, random number generators, default dtype and device."""

from __future__ import annotations

import copy
import dataclasses
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn.parameter import UninitializedTensorMixin
from torch.utils._pytree import tree_map_only

from paraminspect.errors import UsageError
from paraminspect.forward.activations import StorageLedger, saved_for_backward, storage_key
from paraminspect.forward.attention import CpuAttentionChoice
from paraminspect.forward.examples import (
    MAX_CPU_BYTES_ENV,
    ExampleInput,
    RunOptions,
    format_size,
    max_cpu_bytes,
    resolve_example,
)
from paraminspect.forward.flops import ModuleTracker, counting_flops, per_row
from paraminspect.forward.preserve import preserved, restore
from paraminspect.forward.seeded import seeded
from paraminspect.forward.stats_data import (
    CPU,
    FAKE,
    INFERENCE,
    META,
    TRAINING,
    ForwardStats,
    InputInfo,
    ModuleStats,
)
from paraminspect.tensors.records import dtype_name

__all__ = ["ENGINES", "as_example", "example_from", "forward_stats"]

ENGINES = (META, FAKE, CPU)


def as_example(inputs: Any, kwargs: dict[str, Any] | None = None) -> ExampleInput:
    """An ExampleInput from what a Python caller passes: an ExampleInput, a tensor, a tuple or list of
    positional inputs, or a dict of keyword inputs (plus `kwargs`)."""
    if isinstance(inputs, ExampleInput):
        if kwargs:
            return ExampleInput(inputs.args, {**inputs.kwargs, **kwargs}, inputs.description)
        return inputs
    if isinstance(inputs, torch.Tensor):
        args: tuple[Any, ...] = (inputs,)
    elif isinstance(inputs, (tuple, list)):
        args = tuple(inputs)
    elif isinstance(inputs, dict):
        return ExampleInput((), {**inputs, **(kwargs or {})}, "keyword inputs")
    elif inputs is None:
        args = ()
    else:
        args = (inputs,)
    return ExampleInput(args, dict(kwargs or {}), "given inputs")


def _option_text(value: str | Sequence[int] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(str(int(n)) for n in value)


def example_from(
    model: nn.Module,
    *,
    input_shape: str | Sequence[int] | None = None,
    input_dtype: str | None = None,
    input_ids: str | Sequence[int] | None = None,
    vocab: int | None = None,
    example: str | None = None,
) -> ExampleInput:
    """The example input the CLI's options describe (`--input-shape 1,3,224,224` or
    `input_shape=(1, 3, 224, 224)`, `--input-ids B,T` with `--vocab`, `--example
    file.py:make_input`; none of them: a timm model's own input size), made by
    forward.examples.resolve_example. Raises UsageError with one line."""
    options = RunOptions(
        input_shape=_option_text(input_shape),
        input_dtype=input_dtype,
        input_ids=_option_text(input_ids),
        vocab=vocab,
        example=example,
    )
    return resolve_example(options, model)


def forward_stats(
    model: nn.Module,
    inputs: Any,
    *,
    kwargs: dict[str, Any] | None = None,
    engines: Sequence[str] = ENGINES,
    max_cpu: int | None = None,
    what: str = "",
) -> ForwardStats:
    """Run `model` once on `inputs` (an ExampleInput from forward.examples, a tensor, a tuple of
    positional inputs or a dict of keyword inputs) and measure it; see the module docstring.
    `engines`: which of meta, fake and cpu to try, in that order; `max_cpu`: the CPU run's
    limit on parameter and buffer bytes (default: examples.max_cpu_bytes). Raises UsageError
    with one line when no engine can run it. The model is left as found."""
    example = as_example(inputs, kwargs)
    what = what or type(model).__name__
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise UsageError(f"unknown forward engine {unknown[0] if unknown else '(none)'!r}: use {', '.join(ENGINES)}")
    failures: list[str] = []
    with preserved(model) as state:
        for engine in engines:
            if engine == CPU:
                limit = max_cpu if max_cpu is not None else max_cpu_bytes(None)
                size = _cpu_bytes(model)
                if size > limit:
                    failures.append(
                        f"a CPU run needs {format_size(size)} of parameters and buffers, over the "
                        f"{format_size(limit)} limit (--max-cpu-bytes or {MAX_CPU_BYTES_ENV} raises it)"
                    )
                    continue
            # warnings of an attempt that fails are the engine's (a meta tensor read as a
            # number), not the model's: kept only from the attempt that ran, then re-issued
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                try:
                    stats, example = _attempt(model, example, engine)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:
                    failed: BaseException | None = exc
                else:
                    failed = None
            if failed is not None:
                restore(state)  # the next engine starts from the model as found
                failures.append(f"on {_engine_words(engine)}: {_one_line(failed)}")
                continue
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            return _with_notes(stats, _fallback_notes(what, engine, failures))
    raise UsageError(f"cannot run {what} on the example input ({example.description}): " + "; ".join(failures))


def _attempt(model: nn.Module, example: ExampleInput, engine: str) -> tuple[ForwardStats, ExampleInput]:
    """One engine's run; the automatic batch of 1, refused by BatchNorm in training mode, is
    run again as its batch of 2 (as `check --run` does). Returns the example that ran."""
    try:
        return _measure(model, example, engine), example
    except Exception as exc:
        if example.alternative is None or not _batch_of_one(exc):
            raise
    example = example.alternative
    stats = _measure(model, example, engine)
    note = f"batch 1 is refused by BatchNorm in training mode: ran with {example.description}"
    return _with_notes(stats, [note]), example


def _batch_of_one(exc: BaseException) -> bool:
    return "Expected more than 1 value per channel" in str(exc)


def _engine_words(engine: str) -> str:
    return {META: "the meta device", FAKE: "fake tensors", CPU: "CPU"}[engine]


def _fallback_notes(what: str, used: str, failures: list[str]) -> list[str]:
    if not failures:
        return []
    how = {
        FAKE: "ran it under FakeTensorMode (fake CPU tensors: nothing allocated)",
        CPU: "ran it on CPU (real tensors: its parameters, buffers and activations were allocated)",
        META: "ran it on the meta device",
    }[used]
    return [f"{what} cannot run {'; '.join(failures)}; {how}"]


def _with_notes(stats: ForwardStats, notes: list[str]) -> ForwardStats:
    if not notes:
        return stats
    return dataclasses.replace(stats, notes=(*notes, *stats.notes))


def _one_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _cpu_bytes(model: nn.Module) -> int:
    """What a CPU run allocates for parameters and buffers (tied once): all of them, but
    for parameters that are on CPU already (shared, not copied; buffers are copied)."""
    seen: set[int] = set()
    total = 0
    for t in (*model.parameters(), *model.buffers()):
        if id(t) in seen or isinstance(t, UninitializedTensorMixin):
            continue
        seen.add(id(t))
        shared = isinstance(t, nn.Parameter) and t.device.type == "cpu"
        if not shared:
            total += t.numel() * t.element_size()
    return total


# --- one measured pass ---------------------------------------------------------------------


def _tree(model: nn.Module) -> tuple[list[tuple[str, nn.Module]], dict[int, list[str]]]:
    """The registered modules in tree order (first names) and every module's other names."""
    first = list(model.named_modules())
    names: dict[int, list[str]] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        names.setdefault(id(module), []).append(name)
    return first, names


def _standins(model: nn.Module, engine: str) -> dict[str, torch.Tensor]:
    """Tensors of the same shapes, dtypes, strides and requires_grad for every parameter and
    buffer (first names: functional_call ties the aliases): meta, fake CPU (made under the
    active FakeTensorMode) or real CPU (CPU parameters shared, buffers copied so that
    running statistics stay unchanged; others zeros)."""
    out: dict[str, torch.Tensor] = {}
    for name, t in (*model.named_parameters(), *model.named_buffers()):
        if isinstance(t, UninitializedTensorMixin):
            continue
        if engine == CPU and t.device.type == "cpu":
            stand = t.detach() if isinstance(t, nn.Parameter) else t.detach().clone()
        else:
            device = "meta" if engine == META else "cpu"
            stand = torch.empty_strided(t.size(), t.stride(), dtype=t.dtype, device=device)
            if engine == CPU:
                stand.zero_()
        if isinstance(t, nn.Parameter):
            stand = nn.Parameter(stand, requires_grad=t.requires_grad)
        out[name] = stand
    return out


def _engine_inputs(example: ExampleInput, engine: str, fake: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if engine == META:
        return example.on("meta")
    args, kwargs = example.on("cpu")
    if engine == FAKE:
        return tree_map_only(torch.Tensor, fake.from_tensor, (args, kwargs))
    return args, kwargs


def _named_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[tuple[str, torch.Tensor]]:
    def walk(value: Any, name: str, depth: int) -> Iterator[tuple[str, torch.Tensor]]:
        if isinstance(value, torch.Tensor):
            yield name, value
        elif depth < 6 and isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                yield from walk(v, f"{name}[{i}]", depth + 1)
        elif depth < 6 and isinstance(value, dict):
            for k, v in value.items():
                yield from walk(v, f"{name}[{k!r}]", depth + 1)

    for i, a in enumerate(args):
        yield from walk(a, f"args[{i}]", 0)
    for k, v in kwargs.items():
        yield from walk(v, f"kwargs[{k!r}]", 0)


def _engine_context(engine: str) -> tuple[AbstractContextManager[Any], Any]:
    if engine == META:
        return CpuAttentionChoice(), None
    if engine == CPU:
        # oneDNN's LSTM kernel has no FLOP formula (FlopCounterMode counts it as 0): the
        # decomposed LSTM is counted, as on meta
        return _without_onednn(), None
    from torch._subclasses.fake_tensor import FakeTensorMode

    # allow_non_fake_inputs: real tensors the forward reads (a constant, a plain attribute) join in
    fake = FakeTensorMode(allow_non_fake_inputs=True)
    return _both(_quiet_fake_log(), _both(fake, CpuAttentionChoice())), fake


@contextmanager
def _quiet_fake_log() -> Iterator[None]:
    """FakeTensorMode logs a traceback for an operation that fails (a shape mismatch) before it
    raises: the error itself is reported in one line, so its log stays quiet for the pass."""
    log = logging.getLogger("torch._subclasses.fake_tensor")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


@contextmanager
def _without_onednn() -> Iterator[None]:
    """oneDNN off, and back as it was (mkldnn.flags() would also reset TF32 settings and warn)."""
    enabled = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
    if enabled:
        torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        if enabled:
            torch.backends.mkldnn.enabled = True


@contextmanager
def _both(first: AbstractContextManager[Any], second: AbstractContextManager[Any]) -> Iterator[None]:
    with first, second:
        yield


def _measure(model: nn.Module, example: ExampleInput, engine: str) -> ForwardStats:
    tree, names = _tree(model)
    index = {id(module): row for row, (_, module) in enumerate(tree)}
    modes = ["train" if module.training else "eval" for _, module in tree]
    lazy = any(isinstance(t, UninitializedTensorMixin) for t in (*model.parameters(), *model.buffers()))
    # lazy modules initialise themselves on their first call: a copy does that, not the model
    target = copy.deepcopy(model) if lazy else model
    if lazy:
        index = {id(copied): row for row, copied in enumerate(target.modules())}
    context, fake = _engine_context(engine)
    with context:
        standins = _standins(target, engine)
        args, kwargs = _engine_inputs(example, engine, fake)
        named = list(_named_inputs(args, kwargs))
        inputs = StorageLedger()
        for _, t in named:
            inputs.add(t)
        excluded = [*standins.values(), *(t for _, t in named)]
        saved, outputs = StorageLedger(excluded), StorageLedger(excluded)
        tracker = ModuleTracker(index, outputs.add)
        device = torch.device("cpu" if engine != META else "meta")
        try:
            with torch.enable_grad(), seeded(device), saved_for_backward(saved), counting_flops(tracker) as counter:
                torch.func.functional_call(target, standins, args, kwargs, tie_weights=True, strict=False)
            flops, total, by_operator = per_row(counter, len(tree))
        finally:
            saved.release()
            outputs.release()
    modules = tuple(
        ModuleStats(
            name=name,
            type=type(module).__name__,
            mode=modes[row],
            calls=tracker.calls[row],
            output_shapes=tracker.shapes[row] or (),
            flops=flops[row],
            varying_shapes=tracker.varying[row],
            aliases=tuple(n for n in names[id(module)] if n != name),
        )
        for row, (name, module) in enumerate(tree)
    )
    infos = tuple(
        InputInfo(name, tuple(t.shape), dtype_name(t.dtype), storage_key(t)[1] if t.layout == torch.strided else 0)
        for name, t in named
    )
    return ForwardStats(
        modules=modules,
        flops=total,
        flops_by_operator=tuple(by_operator),
        inputs=infos,
        input_bytes=sum(d.bytes for d in inputs.by_dtype()),
        activation_kind=TRAINING if model.training else INFERENCE,
        saved_for_backward=saved.by_dtype(),
        outputs=outputs.by_dtype(),
        engine=engine,
        input_description=example.description,
        notes=("lazy modules initialise on their first call: the pass ran on a copy",) if lazy else (),
    )
