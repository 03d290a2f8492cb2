"""Plain data of the static pass (no torch): what `scan` found in the source files.

Everything here is a frozen dataclass of strings, numbers and tuples, so that a report can
cross a process boundary, be cached as JSON (`to_json`/`from_json`) and be rendered by any
format without importing the pass itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATIC = "static"  # a finding's `evidence`: read from the source (the built engine's is "built")

# How a class's __init__ parameter can be given (inspect.Parameter kinds, spelled for JSON).
POSITIONAL_ONLY, POSITIONAL, KEYWORD_ONLY = "positional-only", "positional", "keyword-only"
VAR_POSITIONAL, VAR_KEYWORD = "var-positional", "var-keyword"


def astuple_shallow(record: Any) -> list[Any]:
    """A dataclass's field values in order, not recursing (dataclasses.astuple deep-copies)."""
    return list(vars(record).values())


@dataclass(frozen=True)
class InitParam:
    """One parameter of the `__init__` a class runs first (its own or inherited). `annotation`
    and `default` are source text as written (None when absent)."""

    name: str
    kind: str  # POSITIONAL_ONLY, POSITIONAL, KEYWORD_ONLY, VAR_POSITIONAL or VAR_KEYWORD
    required: bool
    annotation: str | None = None
    default: str | None = None


@dataclass(frozen=True)
class ModuleClass:
    """An nn.Module subclass defined in a scanned file.

    `module`: the dotted import path of the file that defines it (`pkg.models`), as the child
    would import it with `import_root` on sys.path; a class re-exported elsewhere (or whose
    `__module__` is reassigned) is still reported here, in its own file. `via`: how it is an
    nn.Module, base by base (`("pkg.base.Base", "torch.nn.Module")`). `init_owner`: the class
    (dotted) whose `__init__` runs first and takes `params` ("" when that is torch's own).
    `params_known`: False when the parameters are not known (the __init__ that runs first is
    torch.nn's own, say nn.Linear's, or could not be read). `analysed`: whether its
    construction path could be read (else `note` says why not, and the pass reports nothing
    for it)."""

    file: str  # absolute path
    line: int
    qualname: str
    module: str
    import_root: str
    via: tuple[str, ...]
    bases: tuple[str, ...]  # as written in the class statement
    params: tuple[InitParam, ...] = ()
    init_owner: str = ""
    params_known: bool = True  # False when that __init__ is a torch.nn class's or could not be read
    abstract: bool = False
    analysed: bool = True
    note: str = ""

    @property
    def required(self) -> tuple[str, ...]:
        """Parameters that have no default (positional and keyword-only)."""
        return tuple(p.name for p in self.params if p.required and p.kind not in (VAR_POSITIONAL, VAR_KEYWORD))

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.qualname}" if self.module else self.qualname

    def spec(self, shown_file: str | None = None) -> str:
        """The MODEL spec of this class: `file.py:Qual.Name` (the file as given, else absolute)."""
        return f"{shown_file or self.file}:{self.qualname}"


@dataclass(frozen=True)
class StaticFinding:
    """A PI001-PI004 finding read from the source, certain without building the model.

    Field names match paraminspect.checks.rule.Finding (`module` is "" : the class is the
    root), plus `cls` (the class checked, qualified name), `owner` (the class whose code holds
    `line`: a base class when the assignment is inherited), `col` (1-based column of the
    statement), `evidence` and `cls_file`."""

    code: str
    severity: str
    file: str
    line: int
    col: int
    cls: str
    owner: str
    attribute: str
    names: tuple[str, ...]
    message: str
    fix: str = ""
    no_fix: str = ""
    module: str = ""
    evidence: str = STATIC
    cls_file: str = ""  # the file that defines `cls` (absolute; `file` may be a base class's)


@dataclass(frozen=True)
class FileFailure:
    """A file the pass could not read (not a regular file, a dangling symlink, a loop,
    undecodable or unparsable source): that file alone is left out."""

    file: str
    reason: str


@dataclass(frozen=True)
class Unresolved:
    """A class that may be an nn.Module, but one of its bases could not be read statically
    (a library that cannot be found, a computed base): only building it can tell."""

    file: str
    line: int
    qualname: str
    module: str
    base: str  # the base that could not be followed, as resolved so far


def _class_row(record: ModuleClass) -> list[Any]:
    values = astuple_shallow(record)
    return [*values[:7], [astuple_shallow(p) for p in record.params], *values[8:]]


@dataclass(frozen=True)
class StaticReport:
    """What `scan` found: every nn.Module subclass of the scanned files (`classes`, in file
    then source order), the static findings, the files it could not read, and the classes
    whose Module-ness is undecided (`unresolved`). `from_cache`: how many files were answered
    from the on-disk cache."""

    files: tuple[str, ...] = ()
    classes: tuple[ModuleClass, ...] = ()
    findings: tuple[StaticFinding, ...] = ()
    failures: tuple[FileFailure, ...] = ()
    unresolved: tuple[Unresolved, ...] = ()
    from_cache: int = 0
    # the top-level names of the modules the scanned files import absolutely (`torchvision`
    # for `from torchvision.models import resnet18`), sorted
    imports: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (dataclasses.asdict, recursive and generic, costs seconds here)."""
        return {
            "files": list(self.files),
            "classes": [{**vars(c), "params": [dict(vars(p)) for p in c.params]} for c in self.classes],
            "findings": [dict(vars(f)) for f in self.findings],
            "failures": [dict(vars(f)) for f in self.failures],
            "unresolved": [dict(vars(u)) for u in self.unresolved],
            "from_cache": self.from_cache,
            "imports": list(self.imports),
        }

    def to_rows(self) -> dict[str, Any]:
        """A compact JSON form for the cache (each record a list of its fields, in order):
        a re-run of an unchanged tree reads it back in a fraction of to_json's time."""
        return {
            "files": list(self.files),
            "classes": [_class_row(c) for c in self.classes],
            "findings": [astuple_shallow(f) for f in self.findings],
            "failures": [astuple_shallow(f) for f in self.failures],
            "unresolved": [astuple_shallow(u) for u in self.unresolved],
            "imports": list(self.imports),
        }

    @classmethod
    def from_rows(cls, data: dict[str, Any]) -> StaticReport:
        classes = []
        for row in data["classes"]:
            head, params, tail = row[:7], row[7], row[8:]
            head[5], head[6] = tuple(head[5]), tuple(head[6])
            classes.append(ModuleClass(*head, tuple(InitParam(*p) for p in params), *tail))
        return cls(
            files=tuple(data["files"]),
            classes=tuple(classes),
            findings=tuple(StaticFinding(*row[:8], tuple(row[8]), *row[9:]) for row in data["findings"]),
            failures=tuple(FileFailure(*row) for row in data["failures"]),
            unresolved=tuple(Unresolved(*row) for row in data["unresolved"]),
            imports=tuple(data.get("imports", ())),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StaticReport:
        def params(items: list[dict[str, Any]]) -> tuple[InitParam, ...]:
            return tuple(InitParam(**p) for p in items)

        classes = []
        for c in data["classes"]:
            c = dict(c)
            c["params"] = params(c["params"])
            c["via"], c["bases"] = tuple(c["via"]), tuple(c["bases"])
            classes.append(ModuleClass(**c))
        return cls(
            files=tuple(data["files"]),
            classes=tuple(classes),
            findings=tuple(StaticFinding(**{**f, "names": tuple(f["names"])}) for f in data["findings"]),
            failures=tuple(FileFailure(**f) for f in data["failures"]),
            unresolved=tuple(Unresolved(**u) for u in data["unresolved"]),
            from_cache=data.get("from_cache", 0),
            imports=tuple(data.get("imports", ())),
        )
