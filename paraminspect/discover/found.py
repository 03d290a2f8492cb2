"""Plain data of `check PATH` (no torch, no user code): what the child that imported the
files found, for the parent to turn into check tasks and report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FoundClass:
    """An nn.Module subclass defined in a file that can be built: `spec` as reported
    (`src/nets/models.py:Net`) and its keyword arguments."""

    spec: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedClass:
    """A class that is not checked and is not a failure: it needs arguments nobody gave."""

    model: str
    reason: str  # "needs dim, depth"


@dataclass(frozen=True)
class Discovery:
    """What importing the files found: the classes to check, the skipped ones, and the
    failures (a file that cannot be imported, an abstract class) as (spec, one line)."""

    classes: tuple[FoundClass, ...] = ()
    skipped: tuple[SkippedClass, ...] = ()
    failures: tuple[tuple[str, str], ...] = ()
    import_failures: tuple[tuple[str, str], ...] = ()  # (file as shown, one line): nothing in it was checked
    files_with_classes: int = 0
