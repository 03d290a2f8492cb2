"""Config-like parameters (`config`, `cfg`, `args`, `hparams`, or annotated with a class)
filled from a config class of the project whose fields all have defaults: a dataclass, a
plain class whose __init__ takes no required argument, or a transformers config (named by
the model's `config_class`). The config class is built with no arguments: its defaults.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from paraminspect.static.args.model import CONFIG_CLASS, ArgSource
from paraminspect.static.model import POSITIONAL_ONLY, VAR_KEYWORD, VAR_POSITIONAL, InitParam, ModuleClass
from paraminspect.static.project import ClassRef, FileEntry, Opaque, Project, TorchClass

CONFIG_NAMES = frozenset(
    {"config", "cfg", "conf", "args", "hparams", "hp", "hparams_dict", "model_config", "model_args"}
)
_CONFIG_CLASS_NAME = re.compile(r"(?:Config|Cfg|Conf|Args|Arguments|Params|HParams|Hparams|Settings|Options)$")
_NOT_CLASSES = frozenset({"int", "float", "str", "bool", "dict", "list", "tuple", "Any", "Optional", "Union"})

LazyParams = Callable[[ClassRef], list[dict[str, Any]] | None]


def _is_dataclass(info: dict[str, Any]) -> bool:
    return any(d.rsplit(".", 1)[-1] in ("dataclass", "define", "frozen") for d in info["decorators"])


def all_defaults(project: Project, cls: ClassRef, lazy_params: LazyParams) -> bool:
    """A config class that builds with no arguments: every field has a default (dataclass
    fields, in it and its bases), and the __init__ that runs first needs no argument."""
    if isinstance(project.module_chain(cls), tuple):
        return False  # an nn.Module is not a config
    for klass in project.mro(cls):
        if isinstance(klass, TorchClass):
            return False
        if isinstance(klass, Opaque):
            if klass.plain:
                continue
            return False
        info = klass.info
        if _is_dataclass(info) or any(ann is not None for _n, _d, ann in info["fields"]):
            for _name, has_default, annotation in info["fields"]:
                if annotation is not None and not has_default and "ClassVar" not in annotation:
                    return False
        if "__init__" in info["methods"] and not _is_dataclass(info):
            params = info.get("params")
            if params is None:
                params = lazy_params(klass)
            if params is None:
                return False
            return all(not p["required"] or p["kind"] in (VAR_POSITIONAL, VAR_KEYWORD) for p in params)
    return True


def _annotation_class(project: Project, entry: FileEntry, annotation: str) -> ClassRef | None:
    try:
        node = ast.parse(annotation, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Subscript) and isinstance(node.value, (ast.Name, ast.Attribute)):  # Optional[Config]
        inner = node.slice
        node = inner.elts[0] if isinstance(inner, ast.Tuple) and inner.elts else inner
    if isinstance(node, ast.BinOp):  # Config | None
        node = node.left
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "Config" (a forward reference)
        return _annotation_class(project, entry, node.value)
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id in _NOT_CLASSES:
        return None
    dotted = ".".join([node.id, *reversed(parts)])
    ref = entry.summary["imports"].get(node.id)
    if ref is not None:
        target = entry.absolute(ref) + ("." + ".".join(reversed(parts)) if parts else "")
    elif entry.summary["names"].get(node.id) == "class":
        target = f"{entry.module}.{dotted}"
    else:
        return None
    found = project.lookup(target)
    return found if isinstance(found, ClassRef) else None


class ConfigFinder:
    def __init__(self, project: Project, entries: list[FileEntry], lazy_params: LazyParams) -> None:
        self.project = project
        self.entries = entries
        self.lazy_params = lazy_params
        self._ok: dict[ClassRef, bool] = {}

    def usable(self, cls: ClassRef) -> bool:
        if cls not in self._ok:
            self._ok[cls] = all_defaults(self.project, cls, self.lazy_params)
        return self._ok[cls]

    def _named(self, entries: list[FileEntry]) -> list[ClassRef]:
        out = []
        for entry in entries:
            for q, info in entry.classes.items():
                ref = ClassRef(entry, q)
                if (_CONFIG_CLASS_NAME.search(q) or _is_dataclass(info)) and self.usable(ref):
                    out.append(ref)
        return out

    def for_parameter(self, cls: ClassRef, param: InitParam) -> ClassRef | None:
        """The config class that fills a required parameter, or None."""
        if param.annotation:
            annotated = _annotation_class(self.project, cls.file, param.annotation)
            if annotated is not None:
                return annotated if self.usable(annotated) else None
        if param.name not in CONFIG_NAMES:
            return None
        for klass in self.project.mro(cls):
            if isinstance(klass, ClassRef) and klass.info.get("config_class"):
                named = self.project.resolve(klass.file, klass.info["config_class"])
                if isinstance(named, ClassRef):
                    return named if self.usable(named) else None
        for pool in ([cls.file], [e for e in self.entries if e.scanned]):
            found = self._named(pool)
            if len(found) == 1:
                return found[0]
            if found:
                return _closest(cls.qualname, found)
        return None

    def source(self, cls: ClassRef, record: ModuleClass) -> ArgSource | None:
        """Build `record`'s class from config classes, when every required parameter is one."""
        if not record.params_known or not record.required:
            return None
        filled: list[tuple[InitParam, ClassRef]] = []
        for param in record.params:
            if not param.required or param.kind in (VAR_POSITIONAL, VAR_KEYWORD):
                continue
            config = self.for_parameter(cls, param)
            if config is None:
                return None
            filled.append((param, config))
        imports: dict[tuple[str, str], str] = {}

        def name(ref: ClassRef) -> str:
            top, _, rest = ref.qualname.partition(".")
            key = (ref.file.module, top)
            if key not in imports:
                imports[key] = top if top not in imports.values() else f"{top}_{len(imports)}"
            return imports[key] + ("." + rest if rest else "")

        target = name(cls)
        args = []
        for param, config in filled:
            built = f"{name(config)}()"
            args.append(built if param.kind == POSITIONAL_ONLY else f"{param.name}={built}")
        snippet = "".join(
            f"from {module} import {top}" + (f" as {alias}" if alias != top else "") + "\n"
            for (module, top), alias in imports.items()
        )
        first = filled[0][1]
        roots = [record.import_root, *(c.file.root for _p, c in filled if c.file.root)]
        return ArgSource(
            cls=f"{record.file}:{record.qualname}",
            kind=CONFIG_CLASS,
            snippet=snippet,
            expression=f"{target}({', '.join(args)})",
            file=first.file.path,
            line=first.info["line"],
            sys_path=tuple(dict.fromkeys(r for r in roots if r)),
        )


def _closest(name: str, candidates: list[ClassRef]) -> ClassRef | None:
    """The candidate whose name shares the longest start with `name` (GPT -> GPTConfig), if unique."""

    def shared(other: str) -> int:
        n = 0
        for a, b in zip(name.lower(), other.lower(), strict=False):
            if a != b:
                break
            n += 1
        return n

    scored = sorted(((shared(c.qualname), c) for c in candidates), key=lambda item: -item[0])
    if scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1]
    return None
