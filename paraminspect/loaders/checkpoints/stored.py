"""What a checkpoint listing holds: plain entries read from metadata, and the file-format constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRUST_FLAG = "--trust-pickle"

# The safetensors format caps its header at 100 MB; anything larger is not a header.
MAX_HEADER_BYTES = 100_000_000

# Keys under which training code commonly stores the model's state_dict, most specific first.
STATE_DICT_KEYS = (
    "state_dict",
    "model_state_dict",
    "model_state",
    "model",
    "module",
    "net",
    "network",
    "weights",
    "params",
    "model_ema",
    "state_dict_ema",
    "ema",
)

# safetensors dtype codes -> torch dtype names, and their element sizes (None: sub-byte).
SAFETENSORS_DTYPES: dict[str, tuple[str, float | None]] = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "I64": ("int64", 8),
    "I32": ("int32", 4),
    "I16": ("int16", 2),
    "I8": ("int8", 1),
    "U64": ("uint64", 8),
    "U32": ("uint32", 4),
    "U16": ("uint16", 2),
    "U8": ("uint8", 1),
    "BOOL": ("bool", 1),
    "C64": ("complex64", 8),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "F8_E8M0": ("float8_e8m0fnu", 1),
    "F4": ("float4_e2m1fn_x2", None),
}


@dataclass(frozen=True)
class StoredTensor:
    """One tensor entry of a checkpoint, from metadata only."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    device: str = "cpu"
    requires_grad: bool = False
    is_parameter: bool = False
    tensor_type: str = "Tensor"
    layout: str = "strided"
    aliases: tuple[str, ...] = ()


@dataclass
class Listing:
    tensors: list[StoredTensor] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    module: Any = None  # an nn.Module the file held (only with --trust-pickle)
    key: str | None = None  # where the state_dict was found in a torch file
    # a torch state_dict's `_metadata` versions (module prefix -> version): load_state_dict reads them
    versions: dict[str, int] | None = None
    # what the format records beside its tensors (gguf.GgufInfo, dcp.DcpInfo): plain data
    info: Any = None
    # why the format's own library refuses to load the file (a safetensors header whose
    # offsets overlap, leave gaps, ...), though its entries can be listed; None when it loads
    refused: str | None = None
