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
import re
from typing import Any

from paraminspect.static import values as V
from paraminspect.static.torchnames import HOLDERS, torch_module_class
from paraminspect.static.values import SELF, U, Value

FORMAT = 1
_REGISTERS = {
    "register_buffer": "buffer",
    "register_parameter": "parameter",
    "add_module": "module",
    "register_module": "module",
}
_MUTATORS = {"append": "append", "insert": "append", "add": "append", "extend": "extend", "update": "extend"}
# Calls that may receive `self` without registering anything on it.
_SAFE_WITH_SELF = V.words("isinstance issubclass type id hasattr getattr print repr str len super callable format hash")
# Builtins whose result is certainly not a tensor.
_NOT_TENSOR_BUILTINS = V.words(
    "len int float bool str range isinstance issubclass hasattr callable repr format sorted enumerate zip min max "
    "abs round divmod hash id type"
)
_REGISTER_CALL = re.compile(r"""(?:register_buffer|register_parameter|register_module|add_module)\(\s*['"](\w+)""")
# Calls whose result assigned to self.x registers x (found with str.find: a regex without a
# literal prefix would try every position of the file).
_HOLDER_CALLS = (
    "Parameter(", "ParameterList(", "ParameterDict(", "ModuleList(", "ModuleDict(", "Sequential(", "Buffer(",
)  # fmt: skip
_SELF_TARGET = re.compile(r"self\.(\w+)\s*(?::[^=\n]*)?=\s*(?:[\w.]+\.)?$")


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _const_str(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class Imports:
    """Local name -> ref, for one file (and, copied, inside a function that imports)."""

    def __init__(self, table: dict[str, str] | None = None) -> None:
        self.table: dict[str, str] = dict(table or {})

    def add(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.table[alias.asname] = "abs:" + alias.name
                else:
                    top = alias.name.split(".")[0]
                    self.table[top] = "abs:" + top
            return
        module = node.module or ""
        for alias in node.names:
            if alias.name == "*":
                continue
            target = f"{module}.{alias.name}" if module else alias.name
            ref = f"rel:{node.level}:{target}" if node.level else "abs:" + target
            self.table[alias.asname or alias.name] = ref

    def ref(self, node: ast.expr) -> str | None:
        parts = _dotted(node)
        if parts is None or parts[0] not in self.table:
            return None
        base = self.table[parts[0]]
        return ".".join([base, *parts[1:]])


def torch_name(ref: str | None) -> str | None:
    """`abs:torch.nn.Linear` -> "torch.nn.Linear"; None for other refs."""
    if ref and ref.startswith("abs:torch"):
        name = ref[4:]
        if name == "torch" or name.startswith("torch."):
            return name
    return None


class _Method:
    """Events of one method body (see the module docstring)."""

    def __init__(self, imports: Imports, self_name: str, nograd: bool) -> None:
        self.imports = imports
        self.self_name = self_name
        self.nograd = nograd
        self.env: dict[str, Value] = {}
        self.out: list[list[Any]] = []
        self.loops = 0

    # --- expressions -------------------------------------------------------------------

    def ident(self, node: ast.AST) -> str:
        return f"{node.lineno}:{node.col_offset}"  # type: ignore[attr-defined]

    def is_self(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id == self.self_name

    def ev(self, node: ast.expr | None) -> Value:
        if node is None:
            return V.N
        method = _EV.get(type(node))
        if method is None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.ev(child)
            return U
        return method(self, node)

    def ev_Constant(self, node: ast.Constant) -> Value:
        return V.N if node.value is None else V.OTHER

    def ev_JoinedStr(self, node: ast.JoinedStr) -> Value:
        for v in node.values:
            self.ev(v)
        return V.OTHER

    def ev_Lambda(self, node: ast.Lambda) -> Value:
        return V.OTHER

    def ev_Name(self, node: ast.Name) -> Value:
        if node.id in self.env:
            return self.env[node.id]
        if node.id == self.self_name:
            return SELF
        return U

    def ev_NamedExpr(self, node: ast.NamedExpr) -> Value:
        value = self.ev(node.value)
        self.env[node.target.id] = value
        return value

    def ev_Attribute(self, node: ast.Attribute) -> Value:
        if self.is_self(node.value):
            return ("S", node.attr)
        if isinstance(node.value, ast.Name) and node.value.id not in self.env:
            return U  # a module or class attribute (torch.float32, nn.GELU): no object we follow
        base = self.ev(node.value)
        return V.derive(base, ("attr", node.attr, self.ident(node)), self.nograd)

    def ev_Subscript(self, node: ast.Subscript) -> Value:
        base = self.ev(node.value)
        self.ev(node.slice)
        key = node.slice
        text = None
        if isinstance(key, ast.Constant) and isinstance(key.value, (int, str)):
            text = str(key.value)
        return V.derive(base, ("item", text, self.ident(node)), self.nograd)

    def ev_Starred(self, node: ast.Starred) -> Value:
        return self.ev(node.value)

    def ev_IfExp(self, node: ast.IfExp) -> Value:
        self.ev(node.test)
        return V.either([self.ev(node.body), self.ev(node.orelse)])

    def ev_BoolOp(self, node: ast.BoolOp) -> Value:
        return V.either([self.ev(v) for v in node.values])

    def ev_Compare(self, node: ast.Compare) -> Value:
        parts = [self.ev(node.left), *(self.ev(c) for c in node.comparators)]
        if any(p[0] == "T" for p in parts):
            return ("T", 0, self.ident(node))
        return V.OTHER if all(p[0] in ("O", "N") for p in parts) else U

    def ev_UnaryOp(self, node: ast.UnaryOp) -> Value:
        operand = self.ev(node.operand)
        if isinstance(node.op, ast.Not):
            return V.OTHER
        return self._operation([operand], node, torch_fn=False)

    def ev_BinOp(self, node: ast.BinOp) -> Value:
        return self._operation([self.ev(node.left), self.ev(node.right)], node, torch_fn=False)

    def _operation(self, operands: list[Value], node: ast.AST, torch_fn: bool) -> Value:
        if any(V.is_symbolic(v) for v in operands):
            return ("OP", operands, self.nograd, torch_fn)
        result = V.operation(operands, self.nograd, torch_fn)
        return ("T", result[1], self.ident(node)) if result[0] == "T" else result

    def _elements(self, nodes: list[ast.expr]) -> list[list[Any]]:
        elems: list[list[Any]] = []
        for elt in nodes[: V.MAX_ELEMS]:
            if isinstance(elt, ast.Starred):
                inner = self.ev(elt.value)
                if inner[0] == "L":
                    elems.extend([e[0], None, e[2] or True] for e in inner[2])
                else:
                    elems.append([U, None, True])
            else:
                elems.append([self.ev(elt), str(len(elems)) if all(not e[2] for e in elems) else None, False])
        return elems

    def ev_List(self, node: ast.List) -> Value:
        return ("L", "list", self._elements(node.elts), self.ident(node))

    def ev_Tuple(self, node: ast.Tuple) -> Value:
        return ("L", "tuple", self._elements(node.elts), self.ident(node))

    def ev_Set(self, node: ast.Set) -> Value:
        return ("L", "set", self._elements(node.elts), self.ident(node))

    def ev_Dict(self, node: ast.Dict) -> Value:
        elems: list[list[Any]] = []
        for key, value in list(zip(node.keys, node.values, strict=True))[: V.MAX_ELEMS]:
            if key is None:  # {**other}
                inner = self.ev(value)
                elems.extend([e[0], e[1], e[2]] for e in inner[2]) if inner[0] == "L" else elems.append([U, None, True])
                continue
            self.ev(key)
            text = str(key.value) if isinstance(key, ast.Constant) else None
            elems.append([self.ev(value), text, text is None])
        return ("L", "dict", elems, self.ident(node))

    def _comprehension(self, node: Any, ctype: str) -> Value:
        saved = dict(self.env)
        for gen in node.generators:
            self.ev(gen.iter)
            for name in ast.walk(gen.target):
                if isinstance(name, ast.Name):
                    self.env[name.id] = U
            for cond in gen.ifs:
                self.ev(cond)
        if ctype == "dict":
            self.ev(node.key)
            elem = self.ev(node.value)
        else:
            elem = self.ev(node.elt)
        self.env = saved
        return ("L", ctype, [[elem, None, True]], self.ident(node))

    def ev_ListComp(self, node: ast.ListComp) -> Value:
        return self._comprehension(node, "list")

    def ev_SetComp(self, node: ast.SetComp) -> Value:
        return self._comprehension(node, "set")

    def ev_DictComp(self, node: ast.DictComp) -> Value:
        return self._comprehension(node, "dict")

    def ev_GeneratorExp(self, node: ast.GeneratorExp) -> Value:
        return self._comprehension(node, "gen")

    def ev_Call(self, node: ast.Call) -> Value:
        func = node.func
        # calls on self and on super(): events
        if isinstance(func, ast.Attribute):
            if self.is_self(func.value):
                return self._self_call(node, func.attr)
            if (
                isinstance(func.value, ast.Call)
                and isinstance(func.value.func, ast.Name)
                and func.value.func.id == "super"
            ):
                self._args(node)
                ref = None
                if func.value.args:
                    ref = self.imports.ref(func.value.args[0]) or (
                        "here:" + func.value.args[0].id if isinstance(func.value.args[0], ast.Name) else None
                    )
                if func.attr == "__setattr__":
                    return self._setattr(node, node.args)
                self.out.append(["super", func.attr, node.lineno, ref])
                return U
            if node.args and self.is_self(node.args[0]) and _dotted(func.value) is not None and func.value is not None:
                ref = self._ref(func.value)
                self._args(node, skip_first=True)
                if func.attr == "__setattr__" and ref != "abs:object":
                    return self._setattr(node, node.args[1:])
                if (func.attr.startswith("__") and func.attr != "__init__") or ref == "abs:object":
                    self.out.append(["dyn", node.lineno])
                    return U
                self.out.append(["base", func.attr, node.lineno, ref])
                return U
        name = func.id if isinstance(func, ast.Name) and func.id not in self.env else None
        if name == "setattr" and node.args and self.is_self(node.args[0]):
            return self._setattr(node, node.args[1:])
        if name == "getattr" and node.args and self.is_self(node.args[0]):
            attr = _const_str(node.args[1]) if len(node.args) > 1 else None
            return ("S", attr) if attr else U
        if name in ("vars",) and node.args and self.is_self(node.args[0]):
            self.out.append(["dyn", node.lineno])
            return U
        ref = self._ref(func) if not isinstance(func, ast.Attribute) or _dotted(func) is not None else None
        if ref is None and isinstance(func, ast.Attribute):
            base = self.ev(func.value)
            args = self._args(node)
            flag = 1
            if func.attr == "requires_grad_" and node.args:
                flag = self._truth(node.args[0])
            elif func.attr == "requires_grad_":
                flag = self._truth(_kw(node, "requires_grad"), default=1)
            if func.attr in _MUTATORS and base[0] == "L" and isinstance(func.value, ast.Name):
                self._mutate_local(func.value.id, func.attr, args)
                return V.N
            return V.derive(base, ("call", func.attr, self.ident(node), flag), self.nograd)
        args = self._args(node, ref=ref, name=name)
        return self._named_call(node, ref, name, args)

    def _truth(self, node: ast.expr | None, default: int = 1) -> int:
        if node is None:
            return default
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return int(node.value)
        return 2

    def _ref(self, node: ast.expr) -> str | None:
        ref = self.imports.ref(node)
        if ref is None:
            parts = _dotted(node)
            if parts and parts[0] not in self.env and parts[0] != self.self_name and parts[0] in self.local_names:
                ref = "here:" + ".".join(parts)
        return ref

    local_names: frozenset[str] = frozenset()

    def _args(
        self, node: ast.Call, skip_first: bool = False, ref: str | None = None, name: str | None = None
    ) -> list[Value]:
        """Values of the arguments; `use` events for those that may be kept by the callee, and
        a `dyn` event when self itself is handed to unknown code."""
        args = node.args[1:] if skip_first else node.args
        out: list[Value] = []
        escaping = not (name in _SAFE_WITH_SELF or (ref is not None and torch_name(ref) is not None))
        torch = torch_name(ref)
        keeps = name not in _SAFE_WITH_SELF and (torch is None or torch.rsplit(".", 1)[-1] in HOLDERS)
        for arg in [*args, *(k.value for k in node.keywords)]:
            value = self.ev(arg)
            out.append(value)
            if value[0] == "SELF":
                if escaping:
                    self.out.append(["dyn", node.lineno])
            elif keeps and value[0] in ("S", "L", "OR") and _may_hold(value):
                self.out.append(["use", value])
        return out

    def _named_call(self, node: ast.Call, ref: str | None, name: str | None, args: list[Value]) -> Value:
        ident = self.ident(node)
        torch = torch_name(ref)
        if torch is not None:
            return self._torch_call(node, torch, args, ident)
        if name is not None and ref is None:
            if name in _NOT_TENSOR_BUILTINS:
                return V.OTHER
            if name in ("list", "tuple", "set") and args and args[0][0] == "L":
                return ("L", name, args[0][2], ident)
            if name == "dict" and not node.args:
                pairs = zip(node.keywords, args, strict=True)
                return ("L", "dict", [[v, k.arg, False] for k, v in pairs if k.arg], ident)
            if name in ("list", "tuple", "dict", "set") and not args:
                return ("L", name, [], ident)
        if ref is not None:
            return ("C", ref, ident)
        return U

    def _torch_call(self, node: ast.Call, torch: str, args: list[Value], ident: str) -> Value:
        parts = torch.split(".")
        last = parts[-1]
        if len(parts) == 2:  # torch.X
            if last in V.FACTORIES:
                return ("T", self._truth(_kw(node, "requires_grad"), default=0), ident)
            if last in V.LEGACY:
                return ("T", 0, ident)
            if last == "as_tensor":
                first = args[0] if args else U
                return first if first[0] == "T" else ("T", 0, ident) if first[0] in ("O", "L") else U
            if last in V.NOT_TENSORS:
                return V.OTHER
            if last in V.TENSOR_FUNCTIONS:
                return self._operation(args, node, torch_fn=True)
            return U
        if torch.startswith(V.INIT_IN_PLACE):
            return args[0] if args else U
        if torch.startswith("torch.nn.functional."):
            return self._operation(args, node, torch_fn=True)
        if torch in ("torch.nn.Parameter", "torch.nn.parameter.Parameter", "torch.nn.UninitializedParameter"):
            return ("P", ident)
        if torch in ("torch.nn.Buffer", "torch.nn.parameter.Buffer", "torch.nn.UninitializedBuffer"):
            return ("BUF", ident)
        if torch_module_class(torch) is not None:
            return ("M", ident)
        return U

    def _mutate_local(self, name: str, how: str, args: list[Value]) -> None:
        value = self.env[name]
        op = _MUTATORS[how]
        added: list[list[Any]] = []
        if op == "append":
            added = [[args[-1] if args else U, None, True]]
        elif args and args[0][0] == "L":
            added = [[e[0], None, True] for e in args[0][2]]
        else:
            added = [[U, None, True]]
        if not self.loops and op == "append" and all(not e[2] for e in value[2]) and how == "append":
            added = [[added[0][0], str(len(value[2])), False]]
        self.env[name] = ("L", value[1], list(value[2]) + added, value[3])

    def _self_call(self, node: ast.Call, attr: str) -> Value:
        if attr in _REGISTERS:
            args = node.args
            target = _const_str(args[0]) if args else _const_str(_kw(node, "name"))
            value_node = (
                args[1] if len(args) > 1 else (_kw(node, "tensor") or _kw(node, "param") or _kw(node, "module"))
            )
            value = self.ev(value_node)
            for k in node.keywords:
                if k.arg not in ("name", "tensor", "param", "module"):
                    self.ev(k.value)
            if target is None:
                self.out.append(["dyn", node.lineno])
            else:
                self.out.append(["reg", target, _REGISTERS[attr], value, node.lineno])
            return V.N
        if attr in ("__setattr__",):
            return self._setattr(node, node.args)
        if attr == "apply":
            self._args(node)
            return SELF
        self._args(node)
        self.out.append(["call", attr, node.lineno])
        return U

    def _setattr(self, node: ast.Call, args: list[ast.expr]) -> Value:
        target = _const_str(args[0]) if args else None
        value = self.ev(args[1]) if len(args) > 1 else U
        if target is None:
            self.out.append(["dyn", node.lineno])
        else:
            self.out.append(["w", target, value, node.lineno, node.col_offset + 1, "setattr"])
        return V.N

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
            chain = _dotted(target)
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
                if func.attr in _MUTATORS:
                    args = self._args(call)
                    op = _MUTATORS[func.attr]
                    self.out.append(["mut", attr, op, args[-1] if args else U, node.lineno, bool(self.loops)])
                    return
                if func.attr == "requires_grad_":
                    flag = self._truth(call.args[0]) if call.args else self._truth(_kw(call, "requires_grad"), 1)
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


_EV = {
    getattr(ast, name[3:]): f for name, f in vars(_Method).items() if name.startswith("ev_") and hasattr(ast, name[3:])
}


def _may_hold(value: Value, depth: int = 0) -> bool:
    """A value handed to a call that could register something (a module, a tensor, a list
    of them, or what self holds): else its `use` event would only cost."""
    k = value[0]
    if k in ("U", "O", "N") or depth > V.MAX_DEPTH:
        return False
    if k == "L":
        return any(_may_hold(e[0], depth + 1) for e in value[2])
    if k == "OR":
        return any(_may_hold(v, depth + 1) for v in value[1])
    return True


def _kw(node: ast.Call, name: str) -> ast.expr | None:
    for k in node.keywords:
        if k.arg == name:
            return k.value
    return None


def _merge_envs(envs: list[dict[str, Value]]) -> dict[str, Value]:
    if len(envs) == 1:
        return envs[0]
    names = set().union(*envs)
    return {n: V.either([e.get(n, U) for e in envs]) for n in names}


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
        m.env[a.arg] = U
    if func.args.vararg:
        m.env[func.args.vararg.arg] = U
    if func.args.kwarg:
        m.env[func.args.kwarg.arg] = U
    return m.body(func.body)


def registrations(text: str) -> list[tuple[int, str]]:
    """(line, name) of every name the file's text registers somewhere (any method, read or
    not): register_buffer("x", ...) and the like, and self.x = nn.Parameter(...) /
    nn.ModuleList(...) / ... (searched from the call backwards: `self.` alone is everywhere)."""
    found: list[tuple[int, str]] = []
    for word in ("register_", "add_module("):
        at = text.find(word)
        while at >= 0:
            m = _REGISTER_CALL.match(text, at)
            if m is not None:
                found.append((at, m.group(1)))
            at = text.find(word, at + 1)
    for word in _HOLDER_CALLS:
        at = text.find(word)
        while at >= 0:
            line_start = text.rfind("\n", 0, at) + 1
            target = _SELF_TARGET.search(text, line_start, at)
            if target is not None:
                found.append((at, target.group(1)))
            at = text.find(word, at + 1)
    found.sort()
    out = []
    line, offset = 1, 0
    for at, name in found:
        line += text.count("\n", offset, at)
        offset = at
        out.append((line, name))
    return out
