"""The scanned files as one project: module names, what a name in a file refers to (across
files, through re-exports), base classes in MRO order, and which classes are nn.Modules.

Names the project does not define are looked up in installed libraries the way `import`
would find them (importlib's PathFinder over the project's import roots, then sys.path),
without importing anything: the library file is summarized like a project file. torch itself
and the standard library are never read: torch.nn's classes are known by name (torchnames.py)
and nothing in the standard library is an nn.Module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

from paraminspect.static.extract import all_events
from paraminspect.static.torchnames import torch_module_class

_NOT_MODULE_ROOTS = frozenset(sys.stdlib_module_names) | {"builtins", "typing_extensions", "numpy", "pydantic"}
MAX_REEXPORTS = 8


def package_location(path: Path) -> tuple[Path, str]:
    """(import root, dotted module name) of a file, as paraminspect imports it: inside a
    regular package (folders with __init__.py) its dotted name from above the topmost package;
    else its own stem, from its folder."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder and folder.name.isidentifier():
        parts.insert(0, folder.name)
        folder = folder.parent
    if not parts:  # an __init__.py whose folder name is not an identifier
        return path.parent, path.parent.name
    return folder, ".".join(parts)


@dataclass(eq=False)  # compared (and hashed) by identity: one entry per file
class FileEntry:
    path: str
    module: str
    is_package: bool  # an __init__.py: relative imports count from the module itself
    summary: dict[str, Any]
    scanned: bool  # one of the files asked for (else a library's or an unscanned project file)
    root: str = ""  # the folder its module name is relative to (what goes on sys.path)
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.classes = {c["q"]: c for c in self.summary["classes"]}

    def absolute(self, ref: str) -> str:
        """A ref of this file (`abs:`, `rel:N:`, `here:`) as an absolute dotted name."""
        kind, _, rest = ref.partition(":")
        if kind == "abs":
            return rest
        if kind == "here":
            return f"{self.module}.{rest}"
        if kind == "rel":
            level, _, target = rest.partition(":")
            package = self.module if self.is_package else self.module.rpartition(".")[0]
            for _ in range(int(level) - 1):
                package = package.rpartition(".")[0]
            return f"{package}.{target}" if package else target
        return rest  # builtins:object


@dataclass(frozen=True)
class ClassRef:
    """A class found in a file (project or library)."""

    file: FileEntry
    qualname: str

    @property
    def info(self) -> dict[str, Any]:
        return self.file.classes[self.qualname]

    @property
    def dotted(self) -> str:
        return f"{self.file.module}.{self.qualname}"


@dataclass(frozen=True)
class TorchClass:
    name: str  # "Module", "Linear", ...

    @property
    def dotted(self) -> str:
        return f"torch.nn.{self.name}"


@dataclass(frozen=True)
class Opaque:
    """A base that cannot be followed: outside the project and not found, or computed.
    `plain`: known to be a plain Python base (object, typing.Generic, abc.ABC, an Enum...)."""

    dotted: str
    plain: bool = False


Resolved = ClassRef | TorchClass | Opaque


class Project:
    """Files by module name; `load_summary(path)` summarizes a library file on demand."""

    def __init__(self, load_summary: Callable[[str], dict[str, Any] | None], roots: list[str]) -> None:
        self.load_summary = load_summary
        self.modules: dict[str, FileEntry | None] = {}
        self.search = list(dict.fromkeys([*roots, *(p for p in sys.path if p)]))
        self._module_info: dict[str, tuple[str, bool] | None] = {}
        self._is_module: dict[ClassRef, tuple[str, ...] | bool | None] = {}
        self._mro: dict[ClassRef, list[Resolved]] = {}
        self._resolved: dict[tuple[int, str], Resolved] = {}
        self._bases: dict[ClassRef, list[Resolved]] = {}
        self._footprints: dict[tuple[str, str], tuple[frozenset[str], frozenset[str], bool]] = {}

    def add(self, entry: FileEntry) -> None:
        self.modules.setdefault(entry.module, entry)

    # --- finding modules ---------------------------------------------------------------

    def _locate(self, dotted: str) -> tuple[str, bool] | None:
        """(file, is_package) of an importable module, found as the import system would
        find it on the search path, without importing anything."""
        if dotted in self._module_info:
            return self._module_info[dotted]
        found = None
        head, _, tail = dotted.rpartition(".")
        if not head:
            spec = PathFinder.find_spec(dotted, self.search)
        else:
            parent = self._locate(head)
            spec = None
            if parent is not None and parent[1]:
                spec = PathFinder.find_spec(tail, [str(Path(parent[0]).parent)])
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            found = (spec.origin, spec.submodule_search_locations is not None)
        self._module_info[dotted] = found
        return found

    def module(self, dotted: str) -> FileEntry | None:
        if dotted in self.modules:
            return self.modules[dotted]
        entry = None
        if dotted.split(".")[0] not in _NOT_MODULE_ROOTS and not dotted.startswith("torch"):
            located = self._locate(dotted)
            if located is not None:
                summary = self.load_summary(located[0])
                if summary is not None:
                    entry = FileEntry(located[0], dotted, located[1], summary, scanned=False)
        self.modules[dotted] = entry
        return entry

    # --- names -> classes ----------------------------------------------------------------

    def lookup(self, dotted: str, depth: int = 0) -> Resolved:
        """The class an absolute dotted name refers to."""
        if torch_module_class(dotted) is not None:
            return TorchClass(torch_module_class(dotted) or "")
        root = dotted.split(".")[0]
        if root in _NOT_MODULE_ROOTS or dotted.startswith("torch"):
            return Opaque(dotted, plain=True)  # the standard library, or torch outside torch.nn's modules
        if depth > MAX_REEXPORTS:
            return Opaque(dotted)
        parts = dotted.split(".")
        for i in range(len(parts) - 1, 0, -1):
            entry = self.module(".".join(parts[:i]))
            if entry is None:
                continue
            qual = ".".join(parts[i:])
            if qual in entry.classes:
                return ClassRef(entry, qual)
            ref = entry.summary["imports"].get(parts[i])
            if ref is not None:  # re-exported (`from .models import Net` in __init__.py), or an alias
                target = entry.absolute(ref)
                rest = ".".join(parts[i + 1 :])
                return self.lookup(f"{target}.{rest}" if rest else target, depth + 1)
            return Opaque(dotted)
        return Opaque(dotted)

    def resolve(self, entry: FileEntry, ref: str | None) -> Resolved:
        if ref is None:
            return Opaque("?")
        key = (id(entry), ref)
        found = self._resolved.get(key)
        if found is None:
            found = Opaque(ref[9:], plain=True) if ref.startswith("builtins:") else self.lookup(entry.absolute(ref))
            self._resolved[key] = found
        return found

    def bases(self, cls: ClassRef) -> list[Resolved]:
        found = self._bases.get(cls)
        if found is None:
            found = self._bases[cls] = [self.resolve(cls.file, ref) for _text, ref in cls.info["bases"]]
        return found

    # --- classes -----------------------------------------------------------------------

    def module_chain(self, cls: ClassRef, seen: frozenset[str] = frozenset()) -> tuple[str, ...] | bool | None:
        """How `cls` is an nn.Module: the bases from it to torch.nn (a tuple of dotted
        names); False when it certainly is not one; None when a base could not be read."""
        key = cls
        if key in self._is_module:
            return self._is_module[key]
        if cls.dotted in seen:
            return False
        answer: tuple[str, ...] | bool | None = False
        undecided = False
        for base in self.bases(cls):
            if isinstance(base, TorchClass):
                answer = (base.dotted,)
                break
            if isinstance(base, ClassRef):
                chain = self.module_chain(base, seen | {cls.dotted})
                if isinstance(chain, tuple):
                    answer = (base.dotted, *chain)
                    break
                undecided = undecided or chain is None
            elif not base.plain:
                undecided = True
        if answer is False and undecided:
            answer = None
        self._is_module[key] = answer
        return answer

    def first_unreadable(self, cls: ClassRef, seen: frozenset[str] = frozenset()) -> str:
        for base in self.bases(cls):
            if isinstance(base, Opaque) and not base.plain:
                return base.dotted
            if isinstance(base, ClassRef) and base.dotted not in seen:
                found = self.first_unreadable(base, seen | {cls.dotted})
                if found:
                    return found
        return ""

    def mro(self, cls: ClassRef) -> list[Resolved]:
        """C3 linearization (torch classes end their line with torch.nn.Module; unreadable
        bases are kept as Opaque entries). Falls back to depth-first order when C3 fails."""
        key = cls
        if key in self._mro:
            return self._mro[key]
        self._mro[key] = [cls]  # a cycle reads as no bases
        kept = [b for b in self.bases(cls) if not (isinstance(b, Opaque) and b.plain)]
        if len(kept) <= 1:  # one base (most classes): C3 gives the class, then the base's MRO
            single: list[Resolved] = [cls]
            base = kept[0] if kept else None
            if isinstance(base, ClassRef):
                single += self.mro(base)
            elif isinstance(base, TorchClass) and base.name != "Module":
                single += [base, TorchClass("Module")]
            elif base is not None:
                single.append(base)
            self._mro[key] = single
            return single
        lines = []
        for base in self.bases(cls):
            if isinstance(base, ClassRef):
                lines.append(list(self.mro(base)))
            elif isinstance(base, TorchClass) and base.name != "Module":
                lines.append([base, TorchClass("Module")])
            elif not (isinstance(base, Opaque) and base.plain):
                lines.append([base])
        lines.append([b for b in self.bases(cls) if not (isinstance(b, Opaque) and b.plain)])
        result: list[Resolved] = [cls]
        lines = [line for line in lines if line]
        while lines:
            for line in lines:
                head = line[0]
                if not any(head in other[1:] for other in lines):
                    break
            else:  # inconsistent hierarchy: Python would refuse it; keep a depth-first order
                for line in lines:
                    result.extend(x for x in line if x not in result)
                break
            result.append(head)
            lines = [[x for x in line if x != head] for line in lines]
            lines = [line for line in lines if line]
        self._mro[key] = result
        return result

    def footprint(
        self, cls: ClassRef, name: str, lazy: Callable[[ClassRef, str], list[Any] | None]
    ) -> tuple[frozenset[str], frozenset[str], bool]:
        """(names it may assign or delete, names it registers, whether it may register names
        it does not spell out) for method `name` of `cls` (which defines it), the methods it
        calls on self included (found in `cls`'s own MRO), regardless of order and branches."""
        key = (cls.dotted, name)
        memo = self._footprints
        if key in memo:
            return memo[key]
        memo[key] = (frozenset(), frozenset(), False)  # a recursive call adds nothing new
        writes: set[str] = set()
        registered: set[str] = set()
        dynamic = False
        mro = self.mro(cls)

        def follow(at: int, wanted: str) -> None:
            nonlocal dynamic
            for klass in mro[at:]:
                if isinstance(klass, TorchClass):
                    return
                if isinstance(klass, Opaque):
                    if klass.plain:
                        continue
                    dynamic = True
                    return
                if wanted in klass.info["methods"]:
                    w, r, d = self.footprint(klass, wanted, lazy)
                    writes.update(w)
                    registered.update(r)
                    dynamic = dynamic or d
                    return

        entry = cls.info["methods"][name]
        events = entry["ev"] if entry["ev"] is not None else lazy(cls, name)
        if events is None:
            dynamic = True
            events = []
        for ev in all_events(events):
            tag = ev[0]
            if tag in ("w", "del", "mut"):
                writes.add(ev[1])
            elif tag == "reg":
                registered.add(ev[1])
            elif tag == "dyn":
                dynamic = True
            elif tag == "call":
                follow(0, ev[1])
            elif tag == "super":
                follow(1, ev[1])
            elif tag == "base":
                target = self.resolve(cls.file, ev[3])
                if target in mro:
                    follow(mro.index(target), ev[1])
                elif not isinstance(target, TorchClass) and not (isinstance(target, Opaque) and target.plain):
                    dynamic = True
        result = (frozenset(writes), frozenset(registered), dynamic)
        memo[key] = result
        return result
