"""Import a `.py` file as part of its package, so that package-relative imports
(`from .common import Block`) work in `path/file.py:attr` specs and in `check PATH`.

A file whose folder has an `__init__.py` is imported under its dotted name (`nets.models`),
with the folder above its topmost package on sys.path: that is how both a `src/` layout
(`src/nets/models.py` -> `nets.models` from `src/`) and a flat layout (`nets/models.py` ->
`nets.models` from the project root) import. A file outside any package returns None here:
the caller imports it on its own (as `python file.py` would).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from paraminspect.errors import LoadError, exception_line


def package_location(path: Path) -> tuple[Path, str] | None:
    """(the sys.path folder, the dotted module name) of a file inside a regular package, or
    None when its folder is not a package (or a folder name is not an identifier)."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) < 2 and path.name != "__init__.py":
        return None
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return folder, ".".join(parts)


def _same_file(module: Any, path: Path) -> bool:
    origin = getattr(module, "__file__", None)
    try:
        return origin is not None and Path(origin).resolve() == path
    except OSError:
        return False


def _under(module: Any, root: Path) -> bool:
    """Whether an already imported top-level package comes from `root`."""
    locations = list(getattr(module, "__path__", None) or [])
    if getattr(module, "__file__", None):
        locations.append(os.path.dirname(module.__file__))
    return any(Path(loc).resolve().parent == root for loc in locations)


def import_in_package(path: Path, path_text: str) -> Any | None:
    """The module of `path` (resolved) imported as `pkg.sub.module`, or None when the file is
    not in a package or another package of the same top-level name is already imported (the
    caller then imports the file on its own). Raises LoadError with one line when the import
    fails."""
    found = package_location(path)
    if found is None:
        return None
    root, name = found
    top = name.split(".")[0]
    if top in sys.modules and not _under(sys.modules[top], root):
        return None
    existing = sys.modules.get(name)
    if existing is not None:
        return existing if _same_file(existing, path) else None
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(name)
    except SyntaxError as exc:
        where = f"{exc.filename}:{exc.lineno}" if exc.filename and Path(exc.filename).resolve() != path else ""
        line = f" ({where})" if where else f" (line {exc.lineno})"
        raise LoadError(f"cannot import {path_text}: SyntaxError: {exc.msg}{line}") from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a file that calls sys.exit() is an error, not an exit
        raise LoadError(f"cannot import {path_text} (as {name}): {exception_line(exc)}") from exc
    return module if _same_file(module, path) else None
