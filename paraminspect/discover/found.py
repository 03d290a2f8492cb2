"""Plain data of `check PATH` (no torch, no user code): what the child that imported the
files found, for the parent to turn into check tasks and report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FoundClass:
    """An nn.Module subclass found by importing its file. `spec` as reported
    (`src/nets/models.py:Net`), `file` absolute; `kwargs` from [tool.paraminspect.args];
    `missing`: the required parameters they leave out (None: the signature cannot be read);
    `abstract`: its abstract methods; `listed`: the static pass listed it too (else only
    importing the file found it: a base the static pass could not read); `takes_arguments`:
    its constructor has parameters (or a signature that cannot be read), so building it
    with none tries its defaults, a guess."""

    spec: str
    file: str
    qualname: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    missing: tuple[str, ...] | None = ()
    abstract: tuple[str, ...] = ()
    listed: bool = True
    takes_arguments: bool = True

    @property
    def buildable(self) -> bool:
        """Builds with `kwargs` alone."""
        return not self.abstract and self.missing == ()


@dataclass(frozen=True)
class SkippedClass:
    """A class that is not built and is not a failure: it needs arguments nobody gave and
    none were found; `reason` names a way out (static.args.way_out)."""

    model: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    """What importing the files found: the module classes, the classes the static pass
    listed that the imported file does not hold (`absent`, specs), and the files that
    could not be imported (file as shown, one line): nothing in them was built.
    `missing_modules`: of those, the files whose import failed because a top-level module
    cannot be found at all (file as shown, the module's name: `torchaudio`)."""

    classes: tuple[FoundClass, ...] = ()
    absent: tuple[str, ...] = ()
    import_failures: tuple[tuple[str, str], ...] = ()
    missing_modules: tuple[tuple[str, str], ...] = ()
