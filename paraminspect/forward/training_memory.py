"""What training a model holds, from its records and one measured forward pass: weights,
gradients, Adam's two states per trainable element, the inputs and the activations autograd
saves for backward. Plain arithmetic (no torch), as `--dtype` asks it of tensors/memory.py.

With a floating `dtype` (float32, float16, bfloat16) every floating parameter, buffer, input
and saved activation is counted at that many bits (integer tensors keep their size: token
ids, masks); gradients are in that dtype too, and Adam's states in `optimizer_dtype`
(default: the same dtype; float32 for the usual mixed-precision setup). With `dtype=None`
everything keeps the dtype the pass saw. Integer dtypes (int8, int4: quantized weights) are
not trained by Adam: training is left out (None, with a note) and the activations stay in
the pass's floating dtype, as weight-only quantized models compute in it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from paraminspect.errors import UsageError
from paraminspect.forward.stats_data import DtypeBytes, ForwardStats
from paraminspect.tensors.memory import DTYPE_BITS, bytes_as, is_floating
from paraminspect.tensors.records import PARAMETER, STORED, UNREGISTERED, Inventory

ADAM_STATES = 2  # exp_avg and exp_avg_sq per trainable element


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes held while training (None where training is left out: integer dtypes).

    training_bytes = weights + gradients + optimizer + inputs + saved activations."""

    dtype: str | None  # None: the model's own dtypes
    weights_bytes: int  # parameters and buffers (tied once)
    input_bytes: int
    activation_kind: str  # the pass's: "training" or "inference" (see ForwardStats)
    activation_bytes: int  # of that kind, in `dtype` where floating
    saved_bytes: int  # what autograd saves for backward, in `dtype` where floating
    gradient_bytes: int | None
    optimizer_dtype: str | None
    optimizer_bytes: int | None
    training_bytes: int | None
    notes: tuple[str, ...] = ()


def _as(rows: Iterable[DtypeBytes], dtype: str | None) -> int:
    """Bytes of `rows` with their floating storages recast to `dtype`."""
    total = 0
    for row in rows:
        if dtype is None or not is_floating(row.dtype) or row.dtype not in DTYPE_BITS:
            total += row.bytes
        else:
            total += row.bytes * DTYPE_BITS[dtype] // DTYPE_BITS[row.dtype]
    return total


def _inputs_as(stats: ForwardStats, dtype: str | None) -> int:
    return _as((DtypeBytes(i.dtype, 1, i.bytes) for i in stats.inputs), dtype)


def training_memory(
    inv: Inventory, stats: ForwardStats, dtype: str | None = None, optimizer_dtype: str | None = None
) -> TrainingMemory:
    """See the module docstring. `inv` is the model's inventory, `stats` its forward pass."""
    for name in (dtype, optimizer_dtype):
        if name is not None and name not in DTYPE_BITS:
            raise UsageError(f"unknown dtype {name!r}: use {', '.join(DTYPE_BITS)}")
    if optimizer_dtype is not None and not is_floating(optimizer_dtype):
        raise UsageError(f"Adam's states are floating point: {optimizer_dtype} cannot hold them")
    floating = dtype is None or is_floating(dtype)
    weights = trainable_elements = trainable_bytes = 0
    for r in inv.tensors:
        if r.kind == UNREGISTERED or r.numel is None:
            continue
        recast = dtype is not None and is_floating(r.dtype)
        size = bytes_as(r.numel, dtype) if recast and dtype is not None else (r.nbytes or 0)
        weights += size
        if (r.kind == PARAMETER and r.requires_grad) or (r.kind == STORED and is_floating(r.dtype)):
            trainable_elements += r.numel
            trainable_bytes += size
    notes: list[str] = []
    activation_dtype = dtype if floating else None
    if not floating:
        notes.append(
            f"{dtype} weights are not trained with Adam: training memory left out; activations are "
            "counted in the pass's floating dtype, which weight-only quantized models compute in"
        )
    if stats.activation_kind != "training":
        notes.append("the pass ran in eval mode: saved activations are eval mode's (no dropout masks)")
    saved = _as(stats.saved_for_backward, activation_dtype)
    inputs = _inputs_as(stats, activation_dtype)
    gradients = optimizer = training = None
    opt_dtype = None
    if floating:
        gradients = trainable_bytes
        opt_dtype = optimizer_dtype or dtype
        if opt_dtype is None:  # own dtypes: Adam's states take each parameter's
            optimizer = ADAM_STATES * trainable_bytes
        else:
            optimizer = ADAM_STATES * bytes_as(trainable_elements, opt_dtype)
        training = weights + gradients + optimizer + inputs + saved
    return TrainingMemory(
        dtype=dtype,
        weights_bytes=weights,
        input_bytes=inputs,
        activation_kind=stats.activation_kind,
        activation_bytes=_as(stats.activations, activation_dtype),
        saved_bytes=saved,
        gradient_bytes=gradients,
        optimizer_dtype=opt_dtype,
        optimizer_bytes=optimizer,
        training_bytes=training,
        notes=tuple(notes),
    )
