"""Constructor calls found in the project's own code and docs, extracted as snippets.

A call of a project module class counts when every argument is a literal (numbers, strings,
tuples, lists, dicts of them), a reference to torch (`nn.GELU`, `torch.float32`) or to a
project class, a call of a project class with such arguments (`Transformer(ModelConfig(dim=32))`),
or a name bound earlier in the same function or snippet to such a value (`v = ViT(...)` then
`MPP(transformer=v, ...)`). Only those calls are extracted, never the code around them: the
snippet is the imports of the names it uses (from their defining modules), the bindings the
call depends on, in order, and the call itself.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paraminspect.static.args.model import ArgSource
from paraminspect.static.model import (
    KEYWORD_ONLY,
    POSITIONAL,
    POSITIONAL_ONLY,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    ModuleClass,
)
from paraminspect.static.names import Imports
from paraminspect.static.project import ClassRef, FileEntry, Project, package_location

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
# Methods never called to make arguments: they load or fetch weights (`from_pretrained`).
_FETCHES = re.compile(r"pretrain|load|download|fetch|from_|hub|url|checkpoint|ckpt", re.I)


class Context:
    """Where the names of a piece of code come from: its file's imports, and (for a project
    file's `__main__` block or an args-table snippet) the file's own top-level names."""

    def __init__(self, project: Project, imports: dict[str, str], path: str, own: FileEntry | None = None) -> None:
        self.project = project
        self.imports = Imports(imports)
        if own is not None:
            self.entry = own
        else:
            _root, module = package_location(Path(path))
            summary = {"classes": [], "imports": imports}
            self.entry = FileEntry(path, module, Path(path).name == "__init__.py", summary, scanned=False)
        self.own = own

    def snapshot(self) -> Context:
        """This context with its import table as it is now (later imports of the document
        may rebind a name: `from a import ViT` ... `from b import ViT`)."""
        copy_ = copy.copy(self)
        copy_.imports = Imports(self.imports.table)
        return copy_

    def resolve(self, node: ast.expr) -> tuple[str, Any] | None:
        """("class", ClassRef) for a project class, ("torch", dotted) for a torch name,
        ("method", ClassRef) for a method of a project class (`GPT.get_default_config`) that
        does not look like it fetches weights, else None."""
        ref = self.imports.ref(node)
        if ref is None and self.own is not None:
            parts = _dotted(node)
            if parts and self.own.summary["names"].get(parts[0]) == "class":
                ref = "here:" + ".".join(parts)
        if ref is None:
            return None
        dotted = self.entry.absolute(ref)
        if dotted == "torch" or dotted.startswith("torch."):
            return "torch", dotted
        found = self.project.lookup(dotted)
        if isinstance(found, ClassRef) and found.file.scanned:
            return "class", found
        owner, _, method = dotted.rpartition(".")
        if owner and not method.startswith("_") and not _FETCHES.search(method):
            cls = self.project.lookup(owner)
            if isinstance(cls, ClassRef) and cls.file.scanned and method in cls.info.get("methods", {}):
                return "method", cls
        return None


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


@dataclass
class Scope:
    """Names bound so far in one function body or snippet to extractable values, and the
    statements that bound or changed them (`cfg = Config()`, then `cfg.dim = 32`), in order."""

    bindings: dict[str, tuple[ast.expr, frozenset[str]]] = field(default_factory=dict)
    lines: list[tuple[str, ast.stmt]] = field(default_factory=list)

    def forget(self, name: str) -> None:
        self.bindings.pop(name, None)
        self.lines = [(n, st) for n, st in self.lines if n != name]


@dataclass
class Found:
    """A call of a target class whose arguments can be extracted."""

    cls: ClassRef
    call: ast.Call
    deps: frozenset[str]
    lines: list[tuple[str, ast.stmt]]
    context: Context
    file: str
    line: int
    kind: str


class Extractor:
    def __init__(
        self, context: Context, targets: dict[ClassRef, ModuleClass], file: str, kind: str, line_offset: int = 0
    ):
        self.context = context
        self.targets = targets
        self.file = file
        self.kind = kind
        self.offset = line_offset
        self.found: list[Found] = []

    def extractable(self, node: ast.expr, scope: Scope, deps: set[str]) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float, complex))
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return all(not isinstance(e, ast.Starred) and self.extractable(e, scope, deps) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(
                k is not None and self.extractable(k, scope, deps) and self.extractable(v, scope, deps)
                for k, v in zip(node.keys, node.values, strict=True)
            )
        if isinstance(node, ast.Name) and node.id in scope.bindings:
            deps.add(node.id)
            deps.update(scope.bindings[node.id][1])
            return True
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self.context.resolve(node) is not None
        if isinstance(node, ast.Call):
            target = self.context.resolve(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else None
            if target is None or target[0] not in ("class", "method"):
                return False
            if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                return False
            return all(self.extractable(a, scope, deps) for a in node.args) and all(
                self.extractable(k.value, scope, deps) for k in node.keywords
            )
        return False

    def statements(self, body: list[ast.stmt], scope: Scope) -> None:
        for st in body:
            if isinstance(st, _FUNCS):
                self.statements(st.body, Scope())
                continue
            if isinstance(st, ast.ClassDef):
                for item in st.body:
                    if isinstance(item, _FUNCS):
                        self.statements(item.body, Scope())
                continue
            if isinstance(st, (ast.Import, ast.ImportFrom)):
                self.context.imports.add(st)
                continue
            self._calls(st, scope)
            self._bind(st, scope)
            for block in _blocks(st):
                self.statements(block, scope)

    def _calls(self, st: ast.stmt, scope: Scope) -> None:
        for node in _own_nodes(st):
            if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Name, ast.Attribute)):
                continue
            if isinstance(node.func, ast.Name) and node.func.id in scope.bindings:
                continue
            target = self.context.resolve(node.func)
            if target is None or target[0] != "class" or target[1] not in self.targets:
                continue
            deps: set[str] = set()
            if self.extractable(node, scope, deps):
                line = node.lineno + self.offset
                self.found.append(
                    Found(target[1], node, frozenset(deps), list(scope.lines), self.context.snapshot(), self.file,
                          line, self.kind)
                )  # fmt: skip

    def _bind(self, st: ast.stmt, scope: Scope) -> None:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(st, ast.Assign):
            targets, value = st.targets, st.value
        elif isinstance(st, ast.AnnAssign):
            targets, value = [st.target], st.value
        elif isinstance(st, (ast.AugAssign, ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
            targets = [st.target] if not isinstance(st, (ast.With, ast.AsyncWith)) else [
                i.optional_vars for i in st.items if i.optional_vars is not None
            ]  # fmt: skip
        if self._change(st, targets, value, scope):
            return
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        for name in names:  # rebound to something else: no longer usable
            scope.forget(name)
        if (
            value is not None
            and len(targets) == 1
            and isinstance(targets[0], ast.Name)
            and isinstance(st, ast.Assign | ast.AnnAssign)
        ):
            deps: set[str] = set()
            if self.extractable(value, scope, deps):
                name = targets[0].id
                scope.bindings[name] = (value, frozenset(deps))
                scope.lines.append((name, ast.Assign([ast.Name(name, ast.Store())], value, lineno=0)))

    def _change(self, st: ast.stmt, targets: list[ast.expr], value: ast.expr | None, scope: Scope) -> bool:
        """`cfg.dim = 32` (or `cfg["dim"] = 32`) on a bound name, with an extractable value:
        one more line of that name. Any other change of a bound name's insides forgets it."""
        if len(targets) != 1 or not isinstance(targets[0], (ast.Attribute, ast.Subscript)):
            return False
        target = targets[0]
        base = target.value
        if not isinstance(base, ast.Name) or base.id not in scope.bindings:
            return False
        deps: set[str] = set()
        key_ok = not isinstance(target, ast.Subscript) or self.extractable(target.slice, scope, deps)
        if isinstance(st, ast.Assign) and value is not None and key_ok and self.extractable(value, scope, deps):
            expr, old = scope.bindings[base.id]
            scope.bindings[base.id] = (expr, old | deps)
            scope.lines.append((base.id, st))
        else:
            scope.forget(base.id)
        return True


def _blocks(st: ast.stmt) -> Iterator[list[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        block = getattr(st, name, None)
        if block and not isinstance(st, (*_FUNCS, ast.ClassDef)):
            yield block
    for handler in getattr(st, "handlers", []):
        yield handler.body
    for case in getattr(st, "cases", []):
        yield case.body


def _own_nodes(st: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of a statement, not those of the blocks nested in it (visited on their own)."""
    stack: list[ast.AST] = [st]
    nested = {id(s) for block in _blocks(st) for s in block}
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in ast.iter_child_nodes(node) if id(c) not in nested and not isinstance(c, _FUNCS))


def fits(cls: ModuleClass, call: ast.Call) -> bool:
    """Whether the call's arguments match the class's __init__ parameters."""
    if not cls.params_known:
        return True
    params = cls.params
    positional = [p for p in params if p.kind in (POSITIONAL_ONLY, POSITIONAL)]
    var_positional = any(p.kind == VAR_POSITIONAL for p in params)
    var_keyword = any(p.kind == VAR_KEYWORD for p in params)
    if len(call.args) > len(positional) and not var_positional:
        return False
    given = {p.name for p in positional[: len(call.args)]}
    by_name = {p.name: p for p in params if p.kind in (POSITIONAL, KEYWORD_ONLY)}
    for kw in call.keywords:
        if kw.arg in given:
            return False
        if kw.arg not in by_name and not var_keyword:
            return False
        given.add(kw.arg or "")
    return all(p.name in given for p in params if p.required and p.kind not in (VAR_POSITIONAL, VAR_KEYWORD))


class _Rewrite(ast.NodeTransformer):
    """Project classes -> names imported from their defining modules; torch names -> `torch.…`."""

    def __init__(self, context: Context, bindings: set[str], imports: dict[tuple[str, str], str]) -> None:
        self.context = context
        self.bindings = bindings
        self.imports = imports
        self.roots: list[str] = []

    def _replace(self, node: ast.expr) -> ast.expr | None:
        if isinstance(node, ast.Name) and node.id in self.bindings:
            return None
        found = self.context.resolve(node)
        if found is None or found[0] == "method":  # (the class in it is replaced on its own)
            return None
        kind, what = found
        if kind == "torch":
            self.imports[("", "torch")] = "torch"
            return ast.parse(what, mode="eval").body
        top, _, rest = what.qualname.partition(".")
        key = (what.file.module, top)
        if key not in self.imports:
            taken = set(self.imports.values())
            alias = top if top not in taken and top not in self.bindings else f"{top}_{len(self.imports)}"
            self.imports[key] = alias
            self.roots.append(what.file.root)
        return ast.parse(self.imports[key] + ("." + rest if rest else ""), mode="eval").body

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self._replace(node) or node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        replaced = self._replace(node)
        return replaced if replaced is not None else self.generic_visit(node)


def to_source(found: Found, cls: ModuleClass) -> ArgSource:
    """The snippet of a found call: imports, the bindings it depends on, and the call."""
    imports: dict[tuple[str, str], str] = {}
    rewrite = _Rewrite(found.context, set(found.deps), imports)
    lines = [
        ast.unparse(rewrite.visit(copy.deepcopy(statement))) for name, statement in found.lines if name in found.deps
    ]
    expression = ast.unparse(rewrite.visit(copy.deepcopy(found.call)))
    head = ["import torch"] if ("", "torch") in imports else []
    for (module, top), alias in imports.items():
        if module:
            head.append(f"from {module} import {top}" + (f" as {alias}" if alias != top else ""))
    snippet = "\n".join([*head, *lines]) + "\n"
    return ArgSource(
        cls=f"{cls.file}:{cls.qualname}",
        kind=found.kind,
        snippet=snippet,
        expression=expression,
        file=found.file,
        line=found.line,
        sys_path=tuple(dict.fromkeys([cls.import_root, *rewrite.roots])),
    )
