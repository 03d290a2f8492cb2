"""What every loader returns, and small helpers all of them share. Imports no other loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadedModel:
    """What a MODEL spec resolved to."""

    spec: str
    resolved: str
    module: Any  # nn.Module; Any so that importing this file stays cheap for type checkers
    build_device: str
    source: str  # "timm", "factory" or "checkpoint"
    notes: list[str] = field(default_factory=list)
    # A checkpoint file listed from its headers: the inventory is prebuilt and module is None.
    inventory: Any = None
    # A torch file's state_dict `_metadata` versions (module prefix -> version), which decide
    # how load_state_dict treats it (BatchNorm fills num_batches_tracked only without them).
    state_dict_versions: dict[str, int] | None = None
    # What a checkpoint's format records beside its tensors (a GGUF file's metadata, a DCP
    # checkpoint's chunks): a plain frozen dataclass with `facts()` and `as_dict()`, or None.
    checkpoint_info: Any = None


def first_sentence(text: str) -> str:
    """The first line of an error message, cut after its first sentence when long (torch's
    dispatcher errors run on for a screenful)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if len(line) > 160 and ". " in line:
        line = line.split(". ", 1)[0]
    return line


def one_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit (it called sys.exit({exc.code!r}))"
    text = first_sentence(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def a_noun(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def device_of(module: Any) -> str:
    """The device of the first parameter (else buffer) in registration order; iterative, so
    1,000+ nested modules and unhashable module classes are fine."""
    for table in ("_parameters", "_buffers"):
        seen: set[int] = set()
        stack = [module]
        while stack:
            current = stack.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            for t in (getattr(current, table, None) or {}).values():
                if t is not None:
                    return str(t.device)
            stack.extend(c for c in reversed((getattr(current, "_modules", None) or {}).values()) if c is not None)
    return "cpu"
