"""`check PATH`, the part that imports user code (run it in a child process, never in the
CLI): import each file as part of its package and look up its nn.Module classes, those the
static pass listed (by qualified name, so that a class whose `__module__` was reassigned is
still found in its file) and, for files with classes the static pass could not decide, those
that importing the file shows.

`discover_classes` takes and returns plain data (paths, qualified names, the
`[tool.paraminspect.args]` table; a Discovery), so that any child-process runner can call it
by name, for all files at once or one file at a time.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from paraminspect.config import Config
from paraminspect.discover.found import Discovery, FoundClass
from paraminspect.errors import ParamInspectError

TARGET = "paraminspect.discover.classes:discover_classes"


def _is_module_class(obj: Any) -> bool:
    from torch import nn

    try:
        return isinstance(obj, type) and issubclass(obj, nn.Module)
    except Exception:  # an odd metaclass
        return False


def _defined_module_classes(module: Any) -> list[tuple[str, type]]:
    """(name, class) of the nn.Module subclasses defined in `module` (not imported into it),
    in definition order; a class bound to several names is listed once, under its own name."""
    found: dict[int, tuple[str, type]] = {}
    for name, obj in list(vars(module).items()):
        if not _is_module_class(obj) or getattr(obj, "__module__", None) != module.__name__:
            continue
        if id(obj) not in found or name == obj.__name__:
            found[id(obj)] = (name, obj)
    return list(found.values())


def _lookup(module: Any, qualname: str) -> Any:
    obj = module
    for part in qualname.split("."):
        try:
            obj = vars(obj).get(part) if isinstance(obj, type) else getattr(obj, part, None)
        except Exception:
            return None
        if obj is None:
            return None
    return obj


def _abstract_methods(cls: type) -> tuple[str, ...]:
    return tuple(sorted(getattr(cls, "__abstractmethods__", ()) or ())) if inspect.isabstract(cls) else ()


def _takes_arguments(cls: type) -> bool:
    """Whether building `cls` with no arguments leaves parameters at their defaults (or
    `*args, **kwargs` empty): nn.Module's own `__init__` takes none that matter."""
    from torch import nn

    if getattr(cls, "__init__", None) is nn.Module.__init__:
        return False
    try:
        return bool(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return True


def _missing_module(exc: BaseException) -> str | None:
    """The top-level module an import failed on when it cannot be found at all (`torchaudio`,
    not installed), else None (a submodule an installed package lacks is not that)."""
    import importlib.util

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ModuleNotFoundError) and current.name:
            top = current.name.partition(".")[0]
            try:
                return top if importlib.util.find_spec(top) is None else None
            except (ImportError, ValueError):
                return None
        current = current.__cause__ or current.__context__
    return None


def discover_classes(files: Sequence[Mapping[str, Any]], args: Mapping[str, Any]) -> Discovery:
    """Import every file (`{"path": absolute, "shown": as reported, "key": relative to the
    pyproject.toml's folder, "classes": qualified names the static pass listed, "all": also
    list the module classes the file defines that it did not}`) and describe each class: its
    arguments from `args` (the [tool.paraminspect.args] table; call snippets are the static
    argument finder's), what they leave out, its abstract methods. A file that cannot be
    imported is an import failure."""
    from paraminspect.loaders.factory import import_file, missing_arguments

    table = Config(args={k: dict(v) for k, v in args.items() if isinstance(v, Mapping)})
    found: list[FoundClass] = []
    absent: list[str] = []
    import_failures: list[tuple[str, str]] = []
    missing_modules: list[tuple[str, str]] = []
    for entry in files:
        try:
            module = import_file(entry["path"])
        except ParamInspectError as exc:
            import_failures.append((entry["shown"], str(exc).replace(entry["path"], entry["shown"])))
            missing = _missing_module(exc)
            if missing is not None:
                missing_modules.append((entry["shown"], missing))
            continue
        wanted: dict[str, tuple[Any, bool]] = {}
        for qualname in entry.get("classes", ()):
            obj = _lookup(module, qualname)
            if _is_module_class(obj):
                wanted[qualname] = (obj, True)
            else:
                absent.append(f"{entry['shown']}:{qualname}")
        if entry.get("all"):
            listed = {id(obj) for obj, _ in wanted.values()}
            for name, cls in _defined_module_classes(module):
                if id(cls) not in listed:
                    wanted.setdefault(name, (cls, False))
        for qualname, (cls, listed_statically) in wanted.items():
            spec = f"{entry['shown']}:{qualname}"
            kwargs = table.args_for(spec, f"{entry['key']}:{qualname}")
            missing = missing_arguments(cls, kwargs)
            found.append(
                FoundClass(
                    spec,
                    entry["path"],
                    qualname,
                    kwargs,
                    tuple(missing) if missing is not None else None,
                    _abstract_methods(cls),
                    listed_statically,
                    _takes_arguments(cls),
                )
            )
    return Discovery(tuple(found), tuple(absent), tuple(import_failures), tuple(missing_modules))
