"""A file's summary: everything the static pass needs from one source file, as JSON data
(what the cache stores). Depends on nothing but the file's own text: where the file sits in
a package (its module name) is decided later, by project.py.

    {"format": FORMAT, "imports": {name: ref}, "names": {name: kind}, "mains": [[first, last]],
     "classes": [class, ...]}
    class: {"q": qualname, "line", "bases": [[text, ref]], "meta": ref, "decorators": [ref],
            "methods": {name: {"line", "ev": events or None, "stub": [first, last] or None}},
            "params": [param] or None (its own __init__), "fields": [[name, has_default, annotation]],
            "config_class": ref, "registered": [names], "abstract_methods": [names]}
"""

from __future__ import annotations

import ast
from typing import Any

from paraminspect.static import chunks
from paraminspect.static.extract import FORMAT, may_find, method_events
from paraminspect.static.model import KEYWORD_ONLY, POSITIONAL, POSITIONAL_ONLY, VAR_KEYWORD, VAR_POSITIONAL
from paraminspect.static.names import Imports, registrations

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _unparse(node: ast.AST | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Name):  # the common cases, without ast.unparse's visitor
        return node.id
    if isinstance(node, ast.Constant) and not isinstance(node.value, (str, bytes)):
        return repr(node.value)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    try:
        return ast.unparse(node)
    except Exception:  # a node ast.unparse cannot write back (never seen; be safe)
        return None


def init_params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[dict[str, Any]]:
    """The parameters of an `__init__` after self, as InitParam fields."""
    a = func.args
    positional = [*a.posonlyargs, *a.args][1:]
    defaults = [None] * (len(a.posonlyargs) + len(a.args) - len(a.defaults)) + list(a.defaults)
    defaults = defaults[1:]
    out: list[dict[str, Any]] = []
    for i, arg in enumerate(positional):
        kind = POSITIONAL_ONLY if i + 1 < len(a.posonlyargs) else POSITIONAL
        default = defaults[i]
        out.append(_param(arg, kind, default))
    if a.vararg:
        out.append(_param(a.vararg, VAR_POSITIONAL, None, required=False))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        out.append(_param(arg, KEYWORD_ONLY, default))
    if a.kwarg:
        out.append(_param(a.kwarg, VAR_KEYWORD, None, required=False))
    return out


def _param(arg: ast.arg, kind: str, default: ast.expr | None, required: bool | None = None) -> dict[str, Any]:
    return {
        "name": arg.arg,
        "kind": kind,
        "required": default is None if required is None else required,
        "annotation": _unparse(arg.annotation),
        "default": _unparse(default),
    }


def _decorator_ref(imports: Imports, node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    return imports.ref(target) or (_unparse(target) or "?")


class _FileReader:
    def __init__(self, text: str, tree: ast.Module, sk: chunks.Skeleton) -> None:
        self.lines = text.splitlines(keepends=True) if sk.whole else []
        self.registrations = registrations(text)
        self.tree = tree
        self.sk = sk
        self.imports = Imports()
        self.names: dict[str, str] = {}
        self.classes: list[dict[str, Any]] = []
        self.local: frozenset[str] = frozenset()

    def top(self, statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.imports.add(node)
                for alias in node.names:
                    if alias.name != "*":
                        self.names[(alias.asname or alias.name).split(".")[0]] = "import"
            elif isinstance(node, ast.ClassDef):
                self.names[node.name] = "class"
            elif isinstance(node, _FUNCS):
                self.names[node.name] = "def"
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name):
                        self.names[t.id] = "var"
                        self._alias(t.id, node.value)
            elif isinstance(node, (ast.If, ast.Try, ast.With)) or type(node).__name__ == "TryStar":
                for block in _blocks(node):
                    self.top(block)

    def _alias(self, name: str, value: ast.expr | None) -> None:
        """`Base = nn.Module` / `Norm = LayerNorm` at module level: an alias, like an import."""
        if value is None:
            return
        ref = self.imports.ref(value)
        if ref is None and isinstance(value, ast.Name) and self.names.get(value.id) == "class":
            ref = "here:" + value.id
        if ref is not None:
            self.imports.table[name] = ref

    def walk_classes(self, statements: list[ast.stmt], prefix: str) -> None:
        for node in statements:
            if isinstance(node, ast.ClassDef):
                self.read_class(node, prefix + node.name)
            elif not prefix and (isinstance(node, (ast.If, ast.Try, ast.With)) or type(node).__name__ == "TryStar"):
                for block in _blocks(node):
                    self.walk_classes(block, prefix)

    def method_text(self, func: ast.AST) -> str:
        return "".join(self.lines[func.lineno - 1 : func.end_lineno])  # type: ignore[attr-defined]

    def read_class(self, node: ast.ClassDef, qualname: str) -> None:
        imports = self.imports
        local = self.local
        bases = [[_unparse(b) or "?", _base_ref(imports, b, local)] for b in node.bases]
        meta = next((imports.ref(k.value) for k in node.keywords if k.arg == "metaclass"), None)
        functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        fields: list[list[Any]] = []
        config_class = None
        for item in node.body:
            if isinstance(item, _FUNCS):
                functions.setdefault(item.name, []).append(item)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                # the annotation matters only for a field without a default (a ClassVar is not one)
                annotation = _unparse(item.annotation) if item.value is None else ""
                fields.append([item.target.id, item.value is not None, annotation])
            elif isinstance(item, ast.Assign):
                for t in item.targets:
                    if isinstance(t, ast.Name):
                        fields.append([t.id, True, None])
                        if t.id == "config_class":
                            config_class = _base_ref(imports, item.value, local)
        texts = {}
        stubbed = {}
        for name, funcs in functions.items():
            last = funcs[-1]
            stub = self.sk.stubs.get(last.lineno)
            if stub is not None and last.name == stub.name:
                stubbed[name] = stub
            elif self.sk.whole:
                texts[name] = self.method_text(last)
        # the skeleton kept exactly __init__ and what it calls; a whole parse needs the choice
        needed = chunks.called_methods(texts) if self.sk.whole else set(functions) - set(stubbed)
        methods: dict[str, Any] = {}
        params = None
        abstract: list[str] = []
        for name, funcs in functions.items():
            last = funcs[-1]  # a later definition replaces an earlier one
            decorators = [_decorator_ref(imports, d) for d in last.decorator_list]
            if any(d.endswith("abstractmethod") for d in decorators):
                abstract.append(name)
            if name in stubbed:
                stub = stubbed[name]
                methods[name] = {
                    "line": stub.def_line,
                    "ev": None,
                    "stub": [stub.first, stub.last],
                    "cand": stub.maybe,
                    "calls": stub.calls if stub.signature else None,
                }
                if name == "__init__" and stub.signature:
                    params = init_params(last)
                continue
            events = method_events(last, imports, local) if name in needed else None
            first = min([last.lineno, *(d.lineno for d in last.decorator_list)])
            methods[name] = {
                "line": last.lineno,
                "ev": events,
                "stub": None if events is not None else [first, last.end_lineno],
                "cand": may_find(events) if events is not None else None,
            }
            if name == "__init__":
                params = init_params(last)
        end = node.end_lineno or node.lineno
        # a method cut from the skeleton ends at its stub line there: the class ends where it does
        for name in functions:
            stub = stubbed.get(name)
            if stub is not None and stub.last > end:
                end = stub.last
        self.classes.append(
            {
                "q": qualname,
                "line": node.lineno,
                "end": end,
                "bases": bases,
                "meta": meta,
                "decorators": [_decorator_ref(imports, d) for d in node.decorator_list],
                "methods": methods,
                "params": params,
                "fields": fields,
                "config_class": config_class,
                "registered": sorted({n for line, n in self.registrations if node.lineno <= line <= end}),
                "abstract_methods": abstract,
            }
        )
        self.walk_classes(node.body, qualname + ".")


def _blocks(node: ast.stmt) -> list[list[ast.stmt]]:
    out = [getattr(node, "body", [])]
    out.append(getattr(node, "orelse", []))
    out.extend(h.body for h in getattr(node, "handlers", []))
    out.append(getattr(node, "finalbody", []))
    return out


def _base_ref(imports: Imports, node: ast.expr | None, local: frozenset[str]) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Subscript):  # Generic[T], SomeBase[Config]
        node = node.value
    ref = imports.ref(node)
    if ref is not None:
        return ref
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        if node.id in local:
            return "here:" + ".".join([node.id, *reversed(parts)])
        if node.id in ("object", "dict", "list", "tuple", "set", "str", "int", "float", "Exception", "type"):
            return "builtins:" + node.id
    return None


def summarize(text: str, headers_only: bool = False) -> dict[str, Any]:
    """The summary of a file's text (raises SyntaxError when it does not parse). With
    `headers_only` (a library file), no method is read now: lazy_method reads one later."""
    tree, sk = chunks.parse_skeleton(text, headers_only)
    reader = _FileReader(text, tree, sk)
    reader.top(tree.body)
    reader.local = frozenset(n for n, k in reader.names.items() if k in ("class", "def", "var"))
    reader.walk_classes(tree.body, "")
    return {
        "format": FORMAT,
        "imports": reader.imports.table,
        "names": reader.names,
        "mains": [list(m) for m in sk.mains],
        "classes": reader.classes,
    }


def lazy_method(
    lines: list[str], summary: dict[str, Any], cls: dict[str, Any], name: str
) -> tuple[list[list[Any]] | None, list[dict[str, Any]] | None]:
    """(events, parameters if it is __init__) of a method the summary left out (a library's
    method, or a base class's helper that a subclass's __init__ calls), parsed now from the
    file's lines; (None, None) when it does not parse."""
    entry = cls["methods"].get(name)
    if entry is None or entry.get("stub") is None:
        return None, None
    first, last = entry["stub"]
    func = chunks.parse_function(lines, first, last)
    if func is None:
        return None, None
    local = frozenset(n for n, k in summary["names"].items() if k in ("class", "def", "var"))
    params = init_params(func) if name == "__init__" else None
    return method_events(func, Imports(summary["imports"]), local), params
