"""Memory estimates from records: a model's sizes as if loaded in another dtype, its
largest layer, and what training it with Adam holds. Plain arithmetic on TensorRecords
(no torch, no tensor data), so a 70B model costs what its record count costs.

`--dtype bfloat16` (float32, float16, int8, int4) recasts every floating-point parameter,
buffer and stored tensor to that many bits per element; integer and bool tensors (position
ids, masks) keep their size, and unregistered tensors are left as they are (`.to(dtype)`
would not move them either). A GGUF file's quantized tensors (GGML types such as Q4_K, Q8_0)
count as the floating weights they dequantize to: what loading them into a PyTorch model holds.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from paraminspect.errors import UsageError
from paraminspect.tensors.records import PARAMETER, STORED, UNREGISTERED, Inventory, TensorRecord
from paraminspect.tensors.totals import compute_totals

DTYPE_BITS = {"float32": 32, "float16": 16, "bfloat16": 16, "int8": 8, "int4": 4}
_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}


def parse_dtypes(values: Sequence[str] | None) -> list[str]:
    """`--dtype bfloat16 --dtype int8` or `--dtype bfloat16,int8` -> names, in order, once each."""
    out: dict[str, None] = {}
    for value in values or ():
        for part in value.split(","):
            name = part.strip().lower().removeprefix("torch.")
            if not name:
                continue
            name = _ALIASES.get(name, name)
            if name not in DTYPE_BITS:
                raise UsageError(f"unknown --dtype {part.strip()!r}: use {', '.join(DTYPE_BITS)}")
            out.setdefault(name, None)
    return list(out)


def is_floating(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


# GGML's block-quantized types (Q4_K, Q8_0, IQ2_XXS, TQ1_0, MXFP4, NVFP4), as a GGUF listing
# names them; its plain types are listed under torch's names (F16 -> float16).
_GGML_QUANTIZED = re.compile(r"(I?Q\d|TQ\d)_[0-9A-Z_]+|(MX|NV)FP\d+")


def is_quantized(dtype: str) -> bool:
    """A GGML quantized type (a GGUF file's tensor), not a torch dtype."""
    return _GGML_QUANTIZED.fullmatch(dtype) is not None


def _weights(dtype: str) -> bool:
    """Recast by --dtype: floating tensors, and quantized ones as the floats they dequantize to."""
    return is_floating(dtype) or is_quantized(dtype)


def bytes_as(numel: int, dtype: str) -> int:
    """Bytes of `numel` elements of `dtype` (int4: two elements a byte, rounded up)."""
    return (numel * DTYPE_BITS[dtype] + 7) // 8


def _recastable(r: TensorRecord) -> bool:
    return r.kind != UNREGISTERED and r.numel is not None and _weights(r.dtype)


def recast(records: Iterable[TensorRecord], dtype: str) -> tuple[TensorRecord, ...]:
    """The records as if loaded in `dtype`: floating tensors get its dtype and size."""
    return tuple(
        dataclasses.replace(r, dtype=dtype, nbytes=bytes_as(r.numel or 0, dtype)) if _recastable(r) else r
        for r in records
    )


def inventory_as(inv: Inventory, dtype: str) -> Inventory:
    """`inv` with every record and total recomputed as if loaded in `dtype`."""
    records = recast(inv.tensors, dtype)
    return dataclasses.replace(inv, tensors=records, totals=compute_totals(records))


@dataclass(frozen=True)
class MemoryEstimate:
    """What a model holds in `dtype`. training_adam_bytes = weights_bytes + 3 x
    trainable_bytes: a gradient and Adam's two moment estimates per trainable parameter."""

    dtype: str
    weights_bytes: int  # parameters and buffers (persistent or not), or a file's stored tensors
    trainable_bytes: int  # parameters that require grad (every floating tensor of a file)
    largest_layer: str
    largest_layer_bytes: int

    @property
    def training_adam_bytes(self) -> int:
        return self.weights_bytes + 3 * self.trainable_bytes


def no_split_classes(module: Any) -> frozenset[str]:
    """Class names transformers keeps whole on one device (`_no_split_modules`)."""
    names = getattr(module, "_no_split_modules", None) if module is not None else None
    return frozenset(n for n in (names or ()) if isinstance(n, str))


def _layer_of(r: TensorRecord, types: dict[str, str], no_split: frozenset[str]) -> str:
    """The unit a tensor is placed with: its outermost enclosing no-split block, else its
    own module; a root-level tensor is a unit of its own."""
    if no_split and r.module:
        parts = r.module.split(".")
        for level in range(1, len(parts) + 1):
            prefix = ".".join(parts[:level])
            if types.get(prefix) in no_split:
                return prefix
    return r.module or r.name


def estimate(inv: Inventory, dtype: str, no_split: frozenset[str] = frozenset()) -> MemoryEstimate:
    """Weights, trainable part and largest layer of `inv` as if loaded in `dtype` (tied
    tensors count once, at their first name)."""
    types = {m.path: m.type for m in inv.modules}
    weights = trainable = 0
    layers: dict[str, int] = {}
    for r in inv.tensors:
        if r.kind == UNREGISTERED or r.numel is None:
            continue
        size = bytes_as(r.numel, dtype) if _weights(r.dtype) else (r.nbytes or 0)
        weights += size
        if (r.kind == PARAMETER and r.requires_grad) or (r.kind == STORED and _weights(r.dtype)):
            trainable += size  # packed (quantized) weights are not trained
        layer = _layer_of(r, types, no_split)
        layers[layer] = layers.get(layer, 0) + size
    name, size = max(layers.items(), key=lambda kv: kv[1], default=("", 0))
    return MemoryEstimate(dtype, weights, trainable, name, size)


def estimates(inv: Inventory, dtypes: Sequence[str], no_split: frozenset[str] = frozenset()) -> list[MemoryEstimate]:
    return [estimate(inv, d, no_split) for d in dtypes]


def recast_note(dtype: str, inv: Inventory | None = None) -> str:
    note = (
        f"sizes as if loaded in {dtype}: floating-point parameters and buffers at {DTYPE_BITS[dtype]} bits an element; "
        "integer and bool tensors keep theirs"
    )
    quantized = sorted({r.dtype for r in (inv.tensors if inv is not None else ()) if is_quantized(r.dtype)})
    if quantized:
        note += (
            f"; quantized GGUF tensors ({', '.join(quantized)}) count as the floating weights they dequantize to "
            "(what a PyTorch model loaded from them holds), not as stored"
        )
    return note
