"""The facts about one side of a diff, as plain data.

Nothing here imports torch: a key set is built where the model lives (possibly a child
process), pickled back, and compared and rendered by a parent that never imported torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MODEL = "model"
CHECKPOINT = "checkpoint"

# Key kinds. A checkpoint does not record which tensors were parameters ("stored").
PARAMETER = "parameter"
BUFFER = "buffer"
STORED = "stored"


@dataclass(frozen=True)
class Key:
    """One state_dict entry (or, in the side tables, one tensor that is not in the state_dict)."""

    shape: tuple[int, ...] | None  # None: an uninitialized (lazy) parameter
    dtype: str
    kind: str = STORED


@dataclass(frozen=True)
class Verdict:
    """What torch's own `load_state_dict(strict=True, assign=True)` said, on meta tensors."""

    loadable: bool
    error: str | None = None  # the first line of torch's message (or of whatever it raised)
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    size_mismatch: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeySet:
    """One side: its state_dict keys, and for a model the registrations behind them."""

    spec: str
    resolved: str
    source: str  # MODEL or CHECKPOINT
    root_type: str
    keys: dict[str, Key]  # in state_dict order
    # model sides only (empty for checkpoints):
    non_persistent: dict[str, Key] = field(default_factory=dict)  # buffers registered persistent=False
    unregistered: dict[str, Key] = field(default_factory=dict)  # plain tensor attributes of a module
    tied: tuple[tuple[str, ...], ...] = ()  # state_dict names that are one tensor (checkpoints: saved once)
    batchnorm: dict[str, bool] = field(default_factory=dict)  # module path -> track_running_stats
    parametrized: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "mod.weight" -> parametrization types
    legacy_norms: dict[str, str] = field(default_factory=dict)  # "mod.weight" -> spectral_norm / weight_norm (hooks)
    module_types: dict[str, str] = field(default_factory=dict)  # path -> class name, for owners of keys
    # state_dict `_metadata` versions (module prefix -> version): torch's loaders read them
    versions: dict[str, int] | None = None
    notes: tuple[str, ...] = ()
    verdict: Verdict | None = None  # set on a model target gathered against the other side
    hf_rules: Any = None  # a transformers model's loading rules (diffs.hf_load.HFLoadRules)
    # what a checkpoint's format records that the explainers use: a GGUF file's
    # {"format": "gguf", "architecture": "llama", "block_count": 32, ...}; empty for others
    format_facts: dict[str, Any] = field(default_factory=dict)
    # a checkpoint its format's library refuses to load (overlapping safetensors offsets...):
    # why; the diff then does not load whatever the keys say
    refused: str | None = None

    @property
    def is_model(self) -> bool:
        return self.source == MODEL

    def alias_of(self) -> dict[str, tuple[str, ...]]:
        """name -> the other names of its tensor."""
        out: dict[str, tuple[str, ...]] = {}
        for group in self.tied:
            for name in group:
                out[name] = tuple(n for n in group if n != name)
        return out
