"""Parsing MODEL specs: which form a spec is, and `-a key=value` arguments. Imports no loader."""

from __future__ import annotations

import ast
import os
from typing import Any

from paraminspect.errors import UsageError

TIMM_PREFIX = "timm:"
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"
INDEX_SUFFIX = ".index.json"


def parse_factory_args(pairs: list[str] | None) -> dict[str, Any]:
    """`-a key=value` pairs -> kwargs; values are Python literals when they parse, else strings."""
    kwargs: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"bad --arg {pair!r}: expected key=value, e.g. -a depth=4")
        try:
            kwargs[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            kwargs[key] = raw
    return kwargs


def split_target(spec: str) -> tuple[str, str] | None:
    """`left:attr` for factory specs; None for timm names. A Windows drive (`C:\\x.py:f`)
    is kept in the left part."""
    if spec.startswith(TIMM_PREFIX):
        return None
    left, sep, attr = spec.rpartition(":")
    if not sep or not left or len(left) == 1:
        return None
    return left, attr


def is_file_spec(left: str) -> bool:
    return left.endswith(".py") or "/" in left or os.sep in left


def is_checkpoint_spec(spec: str) -> bool:
    """True when MODEL names a checkpoint file by its suffix (whether or not it exists)."""
    lower = spec.lower()
    return lower.endswith(INDEX_SUFFIX) or lower.endswith((SAFETENSORS_SUFFIX, *TORCH_SUFFIXES))
