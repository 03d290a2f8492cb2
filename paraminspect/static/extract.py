"""One file's source -> its summary (plain JSON data, cacheable): imports, classes, and for
each method the pass reads, the events that matter to registration in execution order.

A method becomes a list of events (JSON lists):
    ["w", attr, value, line, col, how]      self.attr = value (how: "=", "setattr")
    ["aug", attr, value, line]              self.attr += value
    ["reg", attr, kind, value, line]        register_buffer / register_parameter / add_module
    ["mut", attr, op, value, line, many]    self.attr.append(v) / extend / [k] = v / requires_grad
    ["call", name, line]                    self.name(...)
    ["super", name, line, ref]              super().name(...) (ref: super(Cls, self)'s Cls)
    ["base", name, line, ref]               Base.name(self, ...)
    ["dyn", line]                           anything that may register names we cannot see
    ["use", value]                          a value handed to a call (it may be registered there)
    ["del", attr]  ["ret"]  ["raise"]
    ["if", body, orelse]  ["loop", body, orelse]  ["try", body, handlers, orelse, final]
Locals are followed inside the method (their values are substituted), so a value mentions
only self's attributes and names of other code (see values.py). Refs are strings:
"abs:pkg.mod.Name", "rel:LEVEL:mod.Name" (a relative import), "here:Name" (this file).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from paraminspect.static import values as V
from paraminspect.static.expressions import MUTATORS, Expressions, keyword
from paraminspect.static.names import Imports, dotted, torch_name
from paraminspect.static.values import U, Value

FORMAT = 1


class _Method(Expressions):
    """Events of one method body (see the module docstring)."""

    # --- statements ----------------------------------------------------------------------

    def body(self, statements: list[ast.stmt]) -> list[list[Any]]:
        saved, self.out = self.out, []
        for st in statements:
            handler = getattr(self, "st_" + type(st).__name__, None)
            if handler is not None:
                handler(st)
            else:
                for child in ast.iter_child_nodes(st):
                    if isinstance(child, ast.expr):
                        self.ev(child)
            if self.out and self.out[-1][0] in ("ret", "raise"):
                break
        events, self.out = self.out, saved
        return events

    def _assign_to(self, target: ast.expr, value: Value, node: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = value
        elif isinstance(target, ast.Attribute) and self.is_self(target.value):
            self.out.append(["w", target.attr, value, node.lineno, node.col_offset + 1, "="])
        elif isinstance(target, (ast.Tuple, ast.List)):
            plain = value[0] == "L" and len(value[2]) == len(target.elts) and not any(e[2] for e in value[2])
            for i, elt in enumerate(target.elts):
                self._assign_to(
                    elt.value if isinstance(elt, ast.Starred) else elt, value[2][i][0] if plain else U, node
                )
        elif isinstance(target, ast.Subscript):
            base = target.value
            self.ev(target.slice)
            if isinstance(base, ast.Attribute) and self.is_self(base.value):
                self.out.append(["mut", base.attr, "set", value, node.lineno, bool(self.loops)])
            elif isinstance(base, ast.Name) and base.id in self.env and self.env[base.id][0] == "L":
                self._mutate_local(base.id, "append", [value])
            elif isinstance(base, ast.Attribute) and base.attr == "__dict__" and self.is_self(base.value):
                self.out.append(["dyn", node.lineno])
            else:
                self.ev(base)
        elif isinstance(target, ast.Attribute):
            chain = dotted(target)
            if chain and chain[0] == self.self_name and len(chain) == 3 and chain[2] == "requires_grad":
                flag = self._truth(node.value) if isinstance(node, (ast.Assign, ast.AnnAssign)) else 2
                self.out.append(["mut", chain[1], "grad", flag, node.lineno, False])
            elif (
                isinstance(target.value, ast.Name)
                and target.value.id in self.env
                and self.env[target.value.id][0] == "SELF"
            ):
                self.out.append(["dyn", node.lineno])
            else:
                self.ev(target.value)

    def st_Assign(self, node: ast.Assign) -> None:
        value = self.ev(node.value)
        if value[0] == "SELF" and any(isinstance(t, ast.Name) for t in node.targets):
            self.out.append(["dyn", node.lineno])
        for target in node.targets:
            self._assign_to(target, value, node)

    def st_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._assign_to(node.target, self.ev(node.value), node)

    def st_AugAssign(self, node: ast.AugAssign) -> None:
        value = self.ev(node.value)
        target = node.target
        if isinstance(target, ast.Attribute) and self.is_self(target.value):
            if value[0] == "L":
                self.out.append(["mut", target.attr, "extend", value, node.lineno, bool(self.loops)])
            else:
                self.out.append(["aug", target.attr, value, node.lineno])
        elif isinstance(target, ast.Name) and target.id in self.env:
            current = self.env[target.id]
            if current[0] == "L" and value[0] == "L":
                self._mutate_local(target.id, "extend", [value])
            else:
                self.env[target.id] = self._operation([current, value], node, torch_fn=False)

    def st_Expr(self, node: ast.Expr) -> None:
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
            func = call.func
            owner = func.value
            if isinstance(owner, ast.Attribute) and self.is_self(owner.value):
                attr = owner.attr
                if func.attr in MUTATORS:
                    args = self._args(call)
                    op = MUTATORS[func.attr]
                    self.out.append(["mut", attr, op, args[-1] if args else U, node.lineno, bool(self.loops)])
                    return
                if func.attr == "requires_grad_":
                    flag = self._truth(call.args[0]) if call.args else self._truth(keyword(call, "requires_grad"), 1)
                    self._args(call)
                    self.out.append(["mut", attr, "grad", flag, node.lineno, False])
                    return
        self.ev(call)

    def st_If(self, node: ast.If) -> None:
        self.ev(node.test)
        test = node.test
        if isinstance(test, ast.Constant):
            self._inline(node.body if test.value else node.orelse)
            return
        self._branches([node.body, node.orelse], "if")

    def _inline(self, statements: list[ast.stmt]) -> None:
        self.out.extend(self.body(statements))

    def _branches(self, blocks: list[list[ast.stmt]], tag: str) -> None:
        before = dict(self.env)
        results = []
        envs = []
        for block in blocks:
            self.env = dict(before)
            results.append(self.body(block))
            envs.append(self.env)
        self.env = _merge_envs(envs if tag == "if" else [before, *envs])
        if any(results):
            self.out.append([tag, *results])

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While, targets: list[ast.expr]) -> None:
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    self.env[name.id] = U
        self.loops += 1
        before = dict(self.env)
        body = self.body(node.body)
        body_env = self.env
        self.loops -= 1
        self.env = _merge_envs([before, body_env])
        orelse = self.body(node.orelse)
        if body or orelse:
            self.out.append(["loop", body, orelse])

    def st_For(self, node: ast.For) -> None:
        self.ev(node.iter)
        self._loop(node, [node.target])

    st_AsyncFor = st_For

    def st_While(self, node: ast.While) -> None:
        self.ev(node.test)
        self._loop(node, [])

    def st_With(self, node: ast.With) -> None:
        nograd = self.nograd
        for item in node.items:
            expr = item.context_expr
            ref = self.imports.ref(expr.func) if isinstance(expr, ast.Call) else None
            if ref is not None and torch_name(ref) in V.GRAD_OFF:
                self.nograd = True
            else:
                self.ev(expr)
            if item.optional_vars is not None:
                self._assign_to(item.optional_vars, U, node)
        self._inline(node.body)
        self.nograd = nograd

    st_AsyncWith = st_With

    def st_Try(self, node: ast.Try) -> None:
        before = dict(self.env)
        body = self.body(node.body)
        after_body = self.env
        handlers = []
        envs = [after_body]
        for h in node.handlers:
            self.env = _merge_envs([before, after_body])
            if h.name:
                self.env[h.name] = V.OTHER
            handlers.append(self.body(h.body))
            envs.append(self.env)
        self.env = after_body
        orelse = self.body(node.orelse)
        envs[0] = self.env
        self.env = _merge_envs(envs)
        final = self.body(node.finalbody)
        if body or any(handlers) or orelse or final:
            self.out.append(["try", body, handlers, orelse, final])

    st_TryStar = st_Try

    def st_Match(self, node: ast.Match) -> None:
        self.ev(node.subject)
        blocks = [case.body for case in node.cases]
        has_default = any(isinstance(c.pattern, ast.MatchAs) and c.pattern.pattern is None for c in node.cases)
        self._branches(blocks if has_default else [*blocks, []], "if_many")
        if self.out and self.out[-1][0] == "if_many":
            self.out[-1][0] = "if"

    def st_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.ev(node.value)
        self.out.append(["ret"])

    def st_Raise(self, node: ast.Raise) -> None:
        self.out.append(["raise"])

    def st_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Attribute) and self.is_self(target.value):
                self.out.append(["del", target.attr])
            elif isinstance(target, ast.Name):
                self.env.pop(target.id, None)

    def st_Import(self, node: ast.Import) -> None:
        self.imports = Imports(self.imports.table)
        self.imports.add(node)
        for alias in node.names:
            self.env.pop((alias.asname or alias.name).split(".")[0], None)

    st_ImportFrom = st_Import  # type: ignore[assignment]

    def st_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.env[node.name] = V.OTHER

    st_AsyncFunctionDef = st_FunctionDef  # type: ignore[assignment]
    st_ClassDef = st_FunctionDef  # type: ignore[assignment]

    def st_Pass(self, node: ast.stmt) -> None:
        return None

    st_Break = st_Continue = st_Global = st_Nonlocal = st_Pass


def _merge_envs(envs: list[dict[str, Value]]) -> dict[str, Value]:
    if len(envs) == 1:
        return envs[0]
    names = set().union(*envs)
    return {n: V.either([e.get(n, U) for e in envs]) for n in names}


_PLAIN_TYPES = frozenset({"int", "float", "bool", "str", "complex", "bytes", "None"})


def _plain_annotation(node: ast.expr | None) -> bool:
    """An annotation that says the argument is not a tensor (`dim: int`, `eps: float | None`,
    `Optional[int]`): arithmetic with it cannot make a tensor require grad."""
    if isinstance(node, ast.Name):
        return node.id in _PLAIN_TYPES
    if isinstance(node, ast.Constant):
        return node.value is None or (isinstance(node.value, str) and node.value in _PLAIN_TYPES)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _plain_annotation(node.left) and _plain_annotation(node.right)
    if isinstance(node, ast.Subscript) and isinstance(node.value, (ast.Name, ast.Attribute)):
        name = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
        return name == "Optional" and _plain_annotation(node.slice)
    return False


def method_events(
    func: ast.FunctionDef | ast.AsyncFunctionDef, imports: Imports, local_names: frozenset[str]
) -> list[list[Any]]:
    """The events of one method (see the module docstring)."""
    args = func.args.posonlyargs + func.args.args
    self_name = args[0].arg if args else "self"
    nograd = any(
        torch_name(imports.ref(d.func if isinstance(d, ast.Call) else d)) in V.GRAD_OFF for d in func.decorator_list
    )
    m = _Method(imports, self_name, nograd)
    m.local_names = local_names
    for a in [*args[1:], *func.args.kwonlyargs]:
        m.env[a.arg] = V.OTHER if _plain_annotation(a.annotation) else U
    if func.args.vararg:
        m.env[func.args.vararg.arg] = U
    if func.args.kwarg:
        m.env[func.args.kwarg.arg] = U
    return m.body(func.body)


def all_events(events: list[Any]) -> Iterator[list[Any]]:
    """Every event of a method, those inside if/loop/try included (order not kept)."""
    stack = list(events)
    while stack:
        ev = stack.pop()
        yield ev
        tag = ev[0]
        if tag == "if":
            for branch in ev[1:]:
                stack.extend(branch)
        elif tag == "loop":
            stack.extend(ev[1])
            stack.extend(ev[2])
        elif tag == "try":
            stack.extend(ev[1])
            for handler in ev[2]:
                stack.extend(handler)
            stack.extend(ev[3])
            stack.extend(ev[4])


_MAYBE_BAD = frozenset({"T", "L", "OR", "S", "D", "OP"})


def may_find(events: list[Any]) -> bool:
    """Whether a method's events could end in a finding: an assignment of a value that is,
    or may turn out to be, a tensor or a container, or a list filled in place."""
    for ev in all_events(events):
        tag = ev[0]
        if (tag == "w" and ev[2][0] in _MAYBE_BAD) or tag == "mut":
            return True
    return False
