"""A module class of `check PATH` built from the arguments the static argument finder found
(paraminspect.static.args: the args table, a config class, a call in the project's tests,
examples, docs, README or `__main__` block): the extracted calls only, run here, in the
model's child process, like a factory."""

from __future__ import annotations

import os
from typing import Any

from paraminspect.errors import LoadError, exception_line
from paraminspect.loaders.build import build_on
from paraminspect.loaders.factory import _as_module
from paraminspect.loaders.loaded import LoadedModel


def shown_where(where: str) -> str:
    """`file:line` of an ArgSource relative to the working directory when below it."""
    try:
        relative = os.path.relpath(where)
    except ValueError:
        return where
    return where if relative.startswith("..") else relative


def load_from_arguments(spec: str, source: Any, device: str | None) -> LoadedModel:
    """Build `spec`'s class with `source` (a static.args.ArgSource) on meta (CPU when meta
    fails), behind the network guard. Whatever the snippet raises, at import or while
    building (SystemExit included), is a LoadError naming where the arguments came from."""
    from paraminspect.static.args.run import prepare

    where = shown_where(source.where)
    qualname = spec.rpartition(":")[2]
    what = f"class {qualname} (with the arguments of {where})"
    try:
        build = prepare(source)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise LoadError(f"the arguments of {where} cannot be prepared: {exception_line(exc)}") from exc
    notes: list[str] = []
    built, built_on = build_on(what, build, device, notes, [])
    return LoadedModel(spec, f"{qualname}, arguments from {where}", _as_module(what, built), built_on, "factory", notes)
