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
    """The Python files to read (absolute paths, in a stable order), how many, and the given
    paths that the skip rules left out (with why: only with --force-exclude)."""

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


def skip_reason(
    path: Path, base: Path, exclude: Sequence[str], named: Path | None = None, defaults: bool = True
) -> str | None:
    """Why `path` (absolute) is left out, or None. `exclude` globs match the path relative to
    `base` (posix), any folder above it, or any single name in it. Only the parts below
    `named` (a path named on the command line) count: what the user names is checked, what
    is found below it is filtered. `defaults`: the tests/ and hidden rules apply (off below a
    named path that they would skip itself: `check tests/` checks the tests)."""
    parts = _relative_parts(path, base)
    skip = len(_relative_parts(named, base)) if named is not None and named != base else 0
    if named is not None and parts[:skip] != _relative_parts(named, base):
        skip = 0
    below = parts[skip:]
    prefixes = ["/".join(parts[: i + 1]) for i in range(skip, len(parts))]
    matcher = _excluder(tuple(exclude))
    if matcher is not None and any(matcher.match(text) for text in (*prefixes, *below)):
        for glob, pattern in zip(exclude, _patterns(tuple(exclude)), strict=True):  # which one, for the message
            if any(fnmatch.fnmatchcase(text, pattern) for text in (*prefixes, *below)):
                return f"excluded by {glob!r}"
    is_file = path.suffix == ".py"
    folders = below[:-1] if is_file else below
    name = below[-1] if below else ""
    for folder in folders:
        if folder in ("site-packages", "__pycache__"):
            return f"in a {folder}/ folder"
        if not defaults:
            continue
        if folder.startswith(".") and folder not in (".", ".."):
            return "a hidden folder"
        if folder in SKIPPED_FOLDERS:
            return f"in a {folder}/ folder"
    if is_file and defaults and below:
        if name.startswith("."):
            return "a hidden file"
        if any(fnmatch.fnmatchcase(name, g) for g in TEST_FILES):
            return "a test file"
    folder = path.parent if is_file else path
    for above in (folder, *folder.parents):
        if named is not None and above == named.parent:
            break
        if (above / VENV_MARKER).is_file():
            return "in a virtualenv"
        if above == base or len(above.parts) <= 1:
            break
    return None


def _walk(folder: Path, base: Path, exclude: Sequence[str], named: Path | None, defaults: bool) -> list[Path]:
    found: list[Path] = []
    for here, dirs, names in os.walk(folder):
        here_path = Path(here)
        dirs[:] = sorted(d for d in dirs if skip_reason(here_path / d, base, exclude, named, defaults) is None)
        for name in sorted(names):
            if name.endswith(".py") and skip_reason(here_path / name, base, exclude, named, defaults) is None:
                found.append(here_path / name)
    return found


def _absolute(text: str) -> Path:
    """A given path made absolute with its folders resolved (a symlinked checkout still lies
    below the project root) but not its last part: a symlink named `x.py` stays itself, so a
    dangling link or a loop fails as that file alone. Never raises on a loop."""
    path = Path(text).expanduser()
    if path.name in ("", ".", ".."):
        return Path(os.path.realpath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def find_files(
    paths: Sequence[str], base: Path, exclude: Sequence[str] = (), force_exclude: bool = False
) -> FileSearch:
    """The Python files under `paths` (folders and `.py` files), nothing read. A path named
    here is checked even when the skip rules would leave it out when found (a test file, a
    tests/ folder, an excluded path): they apply to what is found below it; with
    `force_exclude` (the pre-commit hook) they apply to the named paths too."""
    candidates: dict[Path, None] = {}
    skipped: list[tuple[str, str]] = []
    base = Path(os.path.realpath(base))
    for text in paths:
        path = _absolute(text)
        if not os.path.lexists(path):
            raise UsageError(f"no such file or folder: {text}")
        is_dir = path.is_dir()  # a named symlink to a folder is followed
        reason = None
        if force_exclude and path != base and not (is_dir and path.resolve() == base):
            reason = skip_reason(path, base, exclude)
        if reason is not None:
            skipped.append((text, reason))
            continue
        if is_dir:
            # below a named folder that the tests/hidden rules would skip, they are off
            defaults = force_exclude or skip_reason(path, base, ()) is None
            for found in _walk(path, base, exclude, None if force_exclude else path, defaults):
                candidates.setdefault(found, None)
        else:
            candidates.setdefault(path, None)
    return FileSearch(tuple(candidates), len(candidates), tuple(skipped))


def spec_path(path: Path, cwd: Path | None = None) -> str:
    """How a file appears in a MODEL spec: relative to the working directory when below it
    (posix separators), else absolute."""
    here = (cwd or Path.cwd()).resolve()
    try:
        return path.relative_to(here).as_posix()
    except ValueError:
        return str(path)
