"""`check PATH`, the part that imports user code (run it in a child process, never in the
CLI): import each file as part of its package and list the nn.Module subclasses it defines.

`discover_classes` takes and returns plain data (paths, the `[tool.paraminspect.args]`
table; a Discovery), so that any child-process runner can call it by name.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from paraminspect.config import Config
from paraminspect.discover.found import Discovery, FoundClass, SkippedClass
from paraminspect.errors import ParamInspectError

TARGET = "paraminspect.discover.classes:discover_classes"


def _defined_module_classes(module: Any) -> list[tuple[str, type]]:
    """(name, class) of the nn.Module subclasses defined in `module` (not imported into it),
    in definition order; a class bound to several names is listed once, under its own name."""
    from torch import nn

    found: dict[int, tuple[str, type]] = {}
    for name, obj in list(vars(module).items()):
        try:
            is_module_class = isinstance(obj, type) and issubclass(obj, nn.Module)
        except Exception:  # an odd metaclass
            continue
        if not is_module_class or getattr(obj, "__module__", None) != module.__name__:
            continue
        if id(obj) not in found or name == obj.__name__:
            found[id(obj)] = (name, obj)
    return list(found.values())


def _abstract_methods(cls: type) -> list[str]:
    return sorted(getattr(cls, "__abstractmethods__", ()) or ()) if inspect.isabstract(cls) else []


def discover_classes(files: Sequence[Mapping[str, str]], args: Mapping[str, Mapping[str, Any]]) -> Discovery:
    """Import every file (`{"path": absolute, "shown": as reported, "key": relative to the
    pyproject.toml's folder}`) and sort the module classes it defines into: to check (with
    their arguments from `args`, the [tool.paraminspect.args] table), skipped (required
    arguments that `args` does not give) and failures (abstract classes). A file that cannot
    be imported is an import failure."""
    from paraminspect.loaders.factory import import_file, missing_arguments

    # call snippets (strings) are the static argument finder's; keyword tables apply here
    table = Config(args={k: dict(v) for k, v in args.items() if isinstance(v, Mapping)})
    found: list[FoundClass] = []
    skipped: list[SkippedClass] = []
    failures: list[tuple[str, str]] = []
    import_failures: list[tuple[str, str]] = []
    with_classes = 0
    for entry in files:
        try:
            module = import_file(entry["path"])
        except ParamInspectError as exc:
            import_failures.append((entry["shown"], str(exc).replace(entry["path"], entry["shown"])))
            continue
        classes = _defined_module_classes(module)
        with_classes += bool(classes)
        for name, cls in classes:
            spec = f"{entry['shown']}:{name}"
            kwargs = table.args_for(spec, f"{entry['key']}:{name}")
            abstract = _abstract_methods(cls)
            if abstract:
                failures.append((spec, f"abstract class (abstract methods: {', '.join(abstract)}): it cannot be built"))
                continue
            missing = missing_arguments(cls, kwargs)
            if missing:
                skipped.append(SkippedClass(spec, f"needs {', '.join(missing)}"))
                continue
            found.append(FoundClass(spec, kwargs))
    return Discovery(tuple(found), tuple(skipped), tuple(failures), tuple(import_failures), with_classes)
