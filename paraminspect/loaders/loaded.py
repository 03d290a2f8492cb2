"""What every loader is given (LoadRequest) and returns (LoadedModel), and small helpers all
of them share. Imports no other loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LoadRequest:
    """What a form's loader (paraminspect.forms.Form.loader) is called with."""

    spec: str
    form: Any  # paraminspect.forms.Form
    kwargs: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    trust_pickle: bool = False
    trust_remote_code: bool = False


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
    # Why the build on meta failed when it fell back to CPU (loaders.build.MetaFailure): PI012.
    meta_failure: Any = None
    # Why the checkpoint format's own library refuses to load the file (Listing.refused).
    refused: str | None = None


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
