"""Parsing MODEL specs: which form a spec is, and `-a key=value` arguments. Imports no loader."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

from paraminspect.errors import UsageError

TIMM_PREFIX = "timm:"
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"
INDEX_SUFFIX = ".index.json"


def file_mode(spec: str) -> tuple[Path, int]:
    """The path a MODEL names (`~` expanded) and its st_mode; a missing or unreadable path is
    a LoadError with one printable line (a 5,000-character name is cut)."""
    from paraminspect.errors import LoadError

    path = Path(spec).expanduser()
    try:
        return path, path.stat().st_mode
    except FileNotFoundError:
        raise LoadError(f"no such file: {spec}") from None
    except OSError as exc:  # a 5,000-character name, a loop of links, no permission
        raise LoadError(f"cannot read {spec[:200]}: {exc.strerror or exc}") from None


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


def input_files(spec: str) -> list[str]:
    """The files a MODEL spec reads by path (a checkpoint, a factory's `.py` file): what
    `-o` must never overwrite. `pkg.mod:attr` is not looked up (that would import it)."""
    spec = spec.strip()
    if is_checkpoint_spec(spec):
        return [spec]
    target = split_target(spec)
    if target is not None and is_file_spec(target[0]):
        return [target[0]]
    return []


def refuse_overwriting(output: os.PathLike[str] | str | None, specs: list[str]) -> None:
    """-o naming a file the models are read from (a checkpoint, a factory's .py) would
    destroy it: a UsageError before anything runs."""
    if output is None:
        return
    for spec in specs:
        for name in input_files(spec):
            try:
                same = os.path.samefile(output, name)
            except OSError:  # either does not exist (yet)
                continue
            if same:
                raise UsageError(f"-o {output} is the input file {name}: refused (it would be overwritten)")


def is_checkpoint_spec(spec: str) -> bool:
    """True when MODEL names a checkpoint file by its suffix (whether or not it exists)."""
    lower = spec.lower()
    return lower.endswith(INDEX_SUFFIX) or lower.endswith((SAFETENSORS_SUFFIX, *TORCH_SUFFIXES))
