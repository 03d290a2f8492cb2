"""The result of comparing two key sets: plain frozen data (no torch), rendered elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paraminspect.diffs.keyset import Key, KeySet

# Explanation kinds: the JSON contract (docs/diff.md; tests/test_diff.py checks the table).
PREFIX = "prefix"
RENAME = "rename"
PARAMETRIZATION = "parametrization"
NON_PERSISTENT = "non-persistent"
UNREGISTERED = "unregistered"
TIED = "tied"
BATCHNORM = "batchnorm"
SHAPE = "shape"
DTYPE = "dtype"
GGUF = "gguf"  # llama.cpp names, quantized or permuted tensors: diffs/gguf_names.py
EXPLANATION_KINDS = (PREFIX, RENAME, PARAMETRIZATION, NON_PERSISTENT, UNREGISTERED, TIED, BATCHNORM, SHAPE, DTYPE, GGUF)


@dataclass(frozen=True)
class Entry:
    """One name: its key on the left (the target) and on the right (the state_dict loaded into it)."""

    name: str
    left: Key | None
    right: Key | None


@dataclass(frozen=True)
class Explanation:
    kind: str
    names: tuple[str, ...]  # every key it accounts for (either side's names)
    message: str  # one line, with the fix
    # False when torch loads these keys anyway (a cast dtype, a filled num_batches_tracked)
    blocks: bool = True
    mapping: dict[str, str] = field(default_factory=dict)  # right name -> left name, where a rename fixes it


@dataclass(frozen=True)
class Diff:
    left: KeySet
    right: KeySet
    loadable: bool
    # "load_state_dict" (torch's strict load on meta), "keys" (no model to load into) or "file"
    # (a checkpoint its format's own library refuses to load: KeySet.refused)
    verdict_by: str
    error: str | None  # torch's first line when it refused
    matched: tuple[Entry, ...]
    missing: tuple[Entry, ...]
    unexpected: tuple[Entry, ...]
    mismatched: tuple[Entry, ...]
    explanations: tuple[Explanation, ...]
    unexplained_missing: tuple[str, ...]
    unexplained_unexpected: tuple[str, ...]
    unexplained_mismatched: tuple[str, ...]
    mapping: dict[str, str]  # {old (right) name: new (left) name}
    summary: str
    from_pretrained: Any = None  # a transformers target: diffs.hf_load.FromPretrained
