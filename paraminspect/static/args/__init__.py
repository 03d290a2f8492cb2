"""Arguments for the module classes that need them, found rather than configured (issue 26):
in order, `[tool.paraminspect.args]` (table.py), config classes whose fields all have
defaults (configs.py), and constructor calls in the project's own tests/, examples/, docs/,
README code blocks and `if __name__ == "__main__":` blocks (calls.py, places.py).

    sources = find_arguments(report, root=".", table=config.args, pyproject=config.path)
    sources["/abs/src/pkg/models.py:Net"]  # ArgSource: snippet, expression, kind, file:line

Nothing is imported or run here: run.build(source) does that, in a child process.
"""

from __future__ import annotations

import ast
import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paraminspect.static.args import places
from paraminspect.static.args.calls import Context, Extractor, Found, Scope, fits, to_source
from paraminspect.static.args.configs import ConfigFinder
from paraminspect.static.args.model import ARGS_TABLE, KINDS, MAIN, README, ArgSource
from paraminspect.static.args.table import specs_of, table_source
from paraminspect.static.model import VAR_KEYWORD, VAR_POSITIONAL, ModuleClass, StaticReport
from paraminspect.static.names import Imports
from paraminspect.static.pipeline import Reader, read_source
from paraminspect.static.project import ClassRef

__all__ = ["ArgSource", "find_arguments", "takes_anything", "way_out"]


def _needs(record: ModuleClass) -> bool:
    return bool(record.required) or not record.params_known or takes_anything(record)


def takes_anything(record: ModuleClass) -> bool:
    """`def __init__(self, *args, **kwargs)` passing them on: it builds without arguments as
    far as the signature says, but what it hands them to may need some."""
    return bool(record.params) and all(p.kind in (VAR_POSITIONAL, VAR_KEYWORD) for p in record.params)


def _imports_of(trees: list[ast.Module]) -> dict[str, str]:
    """The top-level imports of a Python file: the table its functions start from (imports
    met while reading statements, in order, are added then: a document's blocks rebind
    names as they go)."""
    table = Imports()
    for tree in trees:
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                table.add(node)
    return table.table


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _calls_in_places(reader: Reader, targets: dict[ClassRef, ModuleClass], root: Path) -> list[Found]:
    found: list[Found] = []
    for kind, path in places.files(root):
        text = places.read_text(path)
        if text is None:
            continue
        blocks = [(offset, _parse(code)) for offset, code in places.python_blocks(path, text)]
        trees = [(offset, tree) for offset, tree in blocks if tree is not None]
        if not trees:
            continue
        top = _imports_of([t for _o, t in trees]) if path.suffix == ".py" else {}
        context = Context(reader.project, top, str(path))
        scope = Scope()  # one document: a README's blocks run one after another
        for offset, tree in trees:
            extractor = Extractor(context, targets, str(path), kind, offset)
            extractor.statements(
                tree.body, scope if kind in (README, "docs", "example") and path.suffix != ".py" else Scope()
            )
            found.extend(extractor.found)
    return found


def _calls_in_mains(reader: Reader, targets: dict[ClassRef, ModuleClass]) -> list[Found]:
    found: list[Found] = []
    for entry in reader.entries:
        if not entry.summary.get("mains"):
            continue
        try:
            lines = read_source(entry.path).splitlines(keepends=True)
        except (OSError, ValueError):
            continue
        for first, last in entry.summary["mains"]:
            tree = _parse("".join(lines[first - 1 : last]))
            if tree is None:
                continue
            context = Context(reader.project, entry.summary["imports"], entry.path, own=entry)
            extractor = Extractor(context, targets, entry.path, MAIN, first - 1)
            extractor.statements(tree.body, Scope())
            found.extend(extractor.found)
    return found


def find_arguments(
    report: StaticReport,
    *,
    root: str | os.PathLike[str],
    table: Mapping[str, Any] | None = None,
    pyproject: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[str, ArgSource]:
    """The best ArgSource for each class of `report` that needs arguments, by "file:Qualname"
    (absolute file). `table`: the [tool.paraminspect.args] table (Config.args), `pyproject`:
    its file (for file:line), `root`: the project folder (where tests/, examples/, docs/ and
    the README are looked for; table keys are relative to it)."""
    base = Path(root).absolute()
    reader = Reader(report.files, cache_dir)
    by_path = {e.path: e for e in reader.entries}
    targets: dict[ClassRef, ModuleClass] = {}
    for record in report.classes:
        entry = by_path.get(record.file)
        if entry is not None and _needs(record) and not record.abstract:
            targets[ClassRef(entry, record.qualname)] = record
    chosen: dict[str, ArgSource] = {}
    configs = ConfigFinder(reader.project, reader.entries, reader.scan.lazy_params)
    toml = Path(pyproject) if pyproject is not None else None
    for ref, record in targets.items():
        source = table_source(record, ref, table, base, toml, reader.entries) if table else None
        if source is None and record.params_known:
            source = configs.source(ref, record)
        if source is not None:
            chosen[source.cls] = source
    remaining = {ref: record for ref, record in targets.items() if f"{record.file}:{record.qualname}" not in chosen}
    if remaining:
        found = _calls_in_places(reader, remaining, base) + _calls_in_mains(reader, remaining)
        rank = {kind: i for i, kind in enumerate(KINDS)}
        found.sort(key=lambda f: (rank[f.kind], f.file, f.line))
        for item in found:
            record = remaining[item.cls]
            key = f"{record.file}:{record.qualname}"
            if key not in chosen and fits(record, item.call):
                chosen[key] = to_source(item, record)
    for ref, record in targets.items():
        key = f"{record.file}:{record.qualname}"
        if key not in chosen and record.params_known and takes_anything(record):
            borrowed = _base_call(reader.project, ref, record, chosen)
            if borrowed is not None:
                chosen[key] = borrowed
    return chosen


def _base_call(project: Any, ref: ClassRef, record: ModuleClass, chosen: dict[str, ArgSource]) -> ArgSource | None:
    """For `def __init__(self, *args, **kwargs)` with no call found: the found call of the
    nearest base in its MRO (not the args table's: that is for the base alone), with this
    class called instead."""
    for base in project.mro(ref)[1:]:
        if not isinstance(base, ClassRef):
            continue
        source = chosen.get(f"{base.file.path}:{base.qualname}")
        if source is None or source.kind == ARGS_TABLE:
            continue
        try:
            call = ast.parse(source.expression, mode="eval").body
        except SyntaxError:
            return None
        if not isinstance(call, ast.Call):
            return None
        top, _, rest = record.qualname.partition(".")
        alias = "_paraminspect_cls"
        call.func = ast.parse(f"{alias}.{rest}" if rest else alias, mode="eval").body
        snippet = f"{source.snippet}from {record.module} import {top} as {alias}\n"
        return dataclasses.replace(
            source,
            cls=f"{record.file}:{record.qualname}",
            snippet=snippet,
            expression=ast.unparse(call),
            sys_path=tuple(dict.fromkeys([record.import_root, *source.sys_path])),
            borrowed_from=base.dotted,
        )
    return None


def way_out(record: ModuleClass, root: str | os.PathLike[str] | None = None) -> str:
    """One sentence for a class with no argument source: a working way to check it (an
    `args` entry with a call, or a factory listed in `models`); never `-a NAME=VALUE` for
    an object, which a command line cannot give."""
    spec = specs_of(record, Path(root or os.getcwd()).absolute())[0]
    needed = record.required
    if not record.params_known:
        call = f"{record.qualname}(...)"
        what = "arguments"
    else:
        shown = []
        for param in record.params:
            if param.name not in needed:
                continue
            if param.annotation and param.annotation[:1].isupper():  # an object: its class, built
                shown.append(f"{param.name}={param.annotation.split('[')[0]}(...)")
            else:
                shown.append(f"{param.name}=...")
        call = f"{record.qualname}({', '.join(shown)})"
        what = ", ".join(needed)
    return (
        f"{spec} needs {what}: give them in pyproject.toml under [tool.paraminspect.args] "
        f'("{spec}" = "{call}"), or list a factory that builds it in [tool.paraminspect] models'
    )
