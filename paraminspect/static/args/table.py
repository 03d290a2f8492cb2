"""`[tool.paraminspect.args]`: a MODEL spec (or glob) -> keyword arguments (a TOML table of
literals) or a Python call snippet (a string: `"GPT(GPTConfig(n_layer=2))"`, or statements
whose last line is the expression that builds the model). Names in a snippet are imported
from the class's own module when it defines or imports them, else from the project module
that defines them.
"""

from __future__ import annotations

import ast
import builtins
import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paraminspect.static.args.model import ARGS_TABLE, ArgSource
from paraminspect.static.model import ModuleClass
from paraminspect.static.project import ClassRef, FileEntry

_LITERALS = (str, int, float, bool, type(None))


def _literal(value: Any) -> bool:
    if isinstance(value, _LITERALS):
        return True
    if isinstance(value, list):
        return all(_literal(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _literal(v) for k, v in value.items())
    return False


def specs_of(record: ModuleClass, root: Path) -> list[str]:
    """The spellings of a class's MODEL spec that a key may use: relative to the project
    root, relative to the working directory, absolute, and `pkg.module:Class`."""
    out = []
    for base in (root, Path.cwd()):
        try:
            out.append(f"{Path(record.file).relative_to(base).as_posix()}:{record.qualname}")
        except ValueError:
            pass
    out.append(f"{record.file}:{record.qualname}")
    if record.module:
        out.append(f"{record.module}:{record.qualname}")
    return list(dict.fromkeys(out))


def entry_for(table: Mapping[str, Any], specs: list[str]) -> tuple[str, Any] | None:
    """(key, value) of the table entry for a class: an exact key wins over a glob; of several
    globs, the first in the file (as Config.args_for decides)."""
    for spec in specs:
        if spec in table:
            return spec, table[spec]
    for key, value in table.items():
        if any(fnmatch.fnmatchcase(spec, key) for spec in specs):
            return key, value
    return None


def _key_line(pyproject: Path | None, key: str) -> int:
    if pyproject is None:
        return 0
    try:
        lines = pyproject.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    quoted = (f'"{key}"', f"'{key}'")
    return next((i for i, line in enumerate(lines, 1) if line.lstrip().startswith(quoted)), 0)


def _free_names(tree: ast.AST) -> list[str]:
    bound = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return [n for n in dict.fromkeys(names) if n not in bound and not hasattr(builtins, n)]


def _import_for(name: str, own: FileEntry, entries: list[FileEntry]) -> str | None:
    """An import line for a name a snippet uses."""
    kind = own.summary["names"].get(name)
    if kind in ("class", "def", "var"):
        return f"from {own.module} import {name}"
    ref = own.summary["imports"].get(name)
    if ref is not None:
        module, _, attr = own.absolute(ref).rpartition(".")
        if not module:  # `import torch` / `import numpy as np`
            return f"import {attr}" + (f" as {name}" if name != attr else "")
        return f"from {module} import {attr}" + (f" as {name}" if attr != name else "")
    defining = [e for e in entries if e.scanned and e.summary["names"].get(name) in ("class", "def")]
    if len(defining) == 1:
        return f"from {defining[0].module} import {name}"
    return None


def table_source(
    record: ModuleClass, cls: ClassRef, table: Mapping[str, Any], root: Path, pyproject: Path | None,
    entries: list[FileEntry],
) -> ArgSource | None:  # fmt: skip
    found = entry_for(table, specs_of(record, root))
    if found is None:
        return None
    key, value = found
    top = record.qualname.partition(".")[0]
    where = str(pyproject) if pyproject is not None else "[tool.paraminspect.args]"
    common = {
        "cls": f"{record.file}:{record.qualname}",
        "kind": ARGS_TABLE,
        "file": where,
        "line": _key_line(pyproject, key),
        "sys_path": (record.import_root,),
    }
    if isinstance(value, Mapping):
        kwargs = dict(value)
        if not _literal(kwargs):
            return ArgSource(snippet="", expression="", kwargs=kwargs, **common)
        call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        snippet = f"from {record.module} import {top}\n"
        return ArgSource(snippet=snippet, expression=f"{record.qualname}({call})", kwargs=kwargs, **common)
    if not isinstance(value, str):
        return None
    try:
        tree = ast.parse(value.strip() + "\n")
    except SyntaxError:
        return None
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return None
    imports = [line for name in _free_names(tree) if (line := _import_for(name, cls.file, entries)) is not None]
    *statements, last = tree.body
    body = "".join(ast.unparse(st) + "\n" for st in statements)
    snippet = "".join(line + "\n" for line in dict.fromkeys(imports)) + body
    roots = [record.import_root, *(e.root for e in entries if e.scanned and e.root)]
    common["sys_path"] = tuple(dict.fromkeys(r for r in roots if r))
    return ArgSource(snippet=snippet, expression=ast.unparse(last.value), **common)
