"""`check PATH`: which Python files to look at, decided without importing torch or user code.

A folder is walked (sorted, symlinked folders not followed); every path, given or found, is
skipped when a part of it below the project root (the pyproject.toml's folder, else the
working directory) matches an `exclude` glob of [tool.paraminspect], or by default:

- folders named `tests` or `test`, and test files (`test_*.py`, `*_test.py`, `conftest.py`);
- hidden folders and files (a name starting with `.`: `.git`, `.venv`, `.tox`);
- virtualenv folders (a folder holding `pyvenv.cfg`), `site-packages` and `__pycache__`.

A file is then read, not imported: one that cannot define an nn.Module subclass (no class
statement with a base that could be one) is dropped before any import.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from paraminspect.errors import UsageError

SKIPPED_FOLDERS = frozenset({"tests", "test", "site-packages", "__pycache__"})
TEST_FILES = ("test_*.py", "*_test.py", "conftest.py")
VENV_MARKER = "pyvenv.cfg"

# Bases that make a class something other than an nn.Module (a class with only these cannot be one).
NOT_MODULE_BASES = frozenset(
    {
        "object", "Exception", "BaseException", "Warning", "ABC", "Protocol", "Generic", "NamedTuple",
        "TypedDict", "Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "dict", "list", "tuple", "set",
        "frozenset", "str", "int", "float", "bytes", "type",
    }
)  # fmt: skip
NOT_MODULE_SUFFIXES = ("Error", "Exception", "Warning")  # ValueError, MyCustomException
_CLASS_WITH_BASES = re.compile(rb"^[ \t]*class[ \t]+\w+[ \t]*\(", re.MULTILINE)


@dataclass(frozen=True)
class FileSearch:
    """The Python files to import (absolute paths, in a stable order), how many Python files
    were looked at, and the given paths that the skip rules left out (with why)."""

    files: tuple[Path, ...]
    looked_at: int
    skipped_given: tuple[tuple[str, str], ...] = ()


def is_path_spec(spec: str) -> bool:
    """A MODEL that names a folder or a `.py` file without `:attr`: check the classes in it."""
    from paraminspect.forms import parse_spec

    return parse_spec(spec).form.name == "source-path"


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):  # Generic[T], nn.Module subscripted never, but be safe
        return _base_name(node.value)
    return None


def may_define_module_class(source: bytes) -> bool:
    """Whether a file's source may define an nn.Module subclass: some class statement has a
    base that is not known to be something else (a base defined in the same file counts as
    what that class may be). Unparsable source is kept: its import reports the error."""
    if not _CLASS_WITH_BASES.search(source):
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return True
    classes = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.bases]
    local = {c.name: c for c in classes}
    maybe: dict[str, bool] = {}

    def may_be(cls: ast.ClassDef, seen: frozenset[str]) -> bool:
        if cls.name in maybe:
            return maybe[cls.name]
        answer = False
        for base in cls.bases:
            name = _base_name(base)
            if name is None:  # a computed base: cannot tell
                answer = True
            elif name in local and name not in seen and name != cls.name:
                answer = may_be(local[name], seen | {cls.name})
            elif name not in NOT_MODULE_BASES and name not in local and not name.endswith(NOT_MODULE_SUFFIXES):
                answer = True
            if answer:
                break
        maybe[cls.name] = answer
        return answer

    return any(may_be(c, frozenset()) for c in classes)


def _relative_parts(path: Path, base: Path) -> tuple[str, ...]:
    try:
        return path.relative_to(base).parts
    except ValueError:
        return path.parts[1:]  # outside the project: its absolute parts, without the root


@functools.lru_cache(maxsize=16)
def _patterns(exclude: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for glob in exclude:
        pattern = glob.strip().rstrip("/")
        out.append(pattern[2:] if pattern.startswith("./") else pattern)
    return tuple(out)


@functools.lru_cache(maxsize=16)
def _excluder(exclude: tuple[str, ...]) -> re.Pattern[str] | None:
    """All `exclude` globs as one compiled pattern: a path is tested once, not once per glob
    (5,000 globs over a tree took minutes one fnmatch at a time)."""
    patterns = _patterns(exclude)
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)) if patterns else None


def skip_reason(path: Path, base: Path, exclude: Sequence[str]) -> str | None:
    """Why `path` (absolute) is left out, or None. `exclude` globs match the path relative to
    `base` (posix), any folder above it, or any single name in it."""
    parts = _relative_parts(path, base)
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    matcher = _excluder(tuple(exclude))
    if matcher is not None and any(matcher.match(text) for text in (*prefixes, *parts)):
        for glob, pattern in zip(exclude, _patterns(tuple(exclude)), strict=True):  # which one, for the message
            if any(fnmatch.fnmatchcase(text, pattern) for text in (*prefixes, *parts)):
                return f"excluded by {glob!r}"
    is_file = path.suffix == ".py"
    folders = parts[:-1] if is_file else parts
    name = parts[-1] if parts else ""
    for folder in folders:
        if folder.startswith(".") and folder not in (".", ".."):
            return "a hidden folder"
        if folder in SKIPPED_FOLDERS:
            return f"in a {folder}/ folder"
    if is_file:
        if name.startswith("."):
            return "a hidden file"
        if any(fnmatch.fnmatchcase(name, g) for g in TEST_FILES):
            return "a test file"
    folder = path.parent if is_file else path
    for above in (folder, *folder.parents):
        if (above / VENV_MARKER).is_file():
            return "in a virtualenv"
        if above == base or len(above.parts) <= 1:
            break
    return None


def _walk(folder: Path, base: Path, exclude: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for here, dirs, names in os.walk(folder):
        here_path = Path(here)
        dirs[:] = sorted(d for d in dirs if skip_reason(here_path / d, base, exclude) is None)
        for name in sorted(names):
            if name.endswith(".py") and skip_reason(here_path / name, base, exclude) is None:
                found.append(here_path / name)
    return found


def find_files(paths: Sequence[str], base: Path, exclude: Sequence[str] = ()) -> FileSearch:
    """The files under `paths` (folders and `.py` files) that may define an nn.Module class."""
    candidates: dict[Path, None] = {}
    skipped: list[tuple[str, str]] = []
    base = base.resolve()
    for text in paths:
        path = Path(text).expanduser()
        if not path.exists():
            raise UsageError(f"no such file or folder: {text}")
        path = path.resolve()
        if not path.is_dir() and not path.is_file():
            raise UsageError(f"{text} is not a regular file or a folder")
        reason = skip_reason(path, base, exclude) if path != base else None
        if reason is not None:
            skipped.append((text, reason))
            continue
        for found in _walk(path, base, exclude) if path.is_dir() else [path]:
            candidates.setdefault(found, None)
    files = []
    for path in candidates:
        try:
            source = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        if may_define_module_class(source):
            files.append(path)
    return FileSearch(tuple(files), len(candidates), tuple(skipped))


def spec_path(path: Path, cwd: Path | None = None) -> str:
    """How a file appears in a MODEL spec: relative to the working directory when below it
    (posix separators), else absolute."""
    here = (cwd or Path.cwd()).resolve()
    try:
        return path.relative_to(here).as_posix()
    except ValueError:
        return str(path)
