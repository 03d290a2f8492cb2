"""Expressions of a method -> abstract values (values.py), for extract.py's events: what
self's attributes are assigned. Locals are followed and substituted; calls on self, super()
and Base.__init__(self) become events; self handed to unknown code is a `dyn` event."""

from __future__ import annotations

import ast
from typing import Any

from paraminspect.static import values as V
from paraminspect.static.names import Imports, const_str, dotted, torch_name
from paraminspect.static.torchnames import HOLDERS, torch_module_class
from paraminspect.static.values import SELF, U, Value

_REGISTERS = {
    "register_buffer": "buffer",
    "register_parameter": "parameter",
    "add_module": "module",
    "register_module": "module",
}
MUTATORS = {"append": "append", "insert": "append", "add": "append", "extend": "extend", "update": "extend"}
# Calls that may receive `self` without registering anything on it.
_SAFE_WITH_SELF = V.words("isinstance issubclass type id hasattr getattr print repr str len super callable format hash")
# Builtins whose result is certainly not a tensor.
_NOT_TENSOR_BUILTINS = V.words(
    "len int float bool str range isinstance issubclass hasattr callable repr format sorted enumerate zip min max "
    "abs round divmod hash id type"
)


class Expressions:
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
            if node.args and self.is_self(node.args[0]) and dotted(func.value) is not None and func.value is not None:
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
            attr = const_str(node.args[1]) if len(node.args) > 1 else None
            return ("S", attr) if attr else U
        if name in ("vars",) and node.args and self.is_self(node.args[0]):
            self.out.append(["dyn", node.lineno])
            return U
        ref = self._ref(func) if not isinstance(func, ast.Attribute) or dotted(func) is not None else None
        if ref is None and isinstance(func, ast.Attribute):
            base = self.ev(func.value)
            args = self._args(node)
            flag = 1
            if func.attr == "requires_grad_" and node.args:
                flag = self._truth(node.args[0])
            elif func.attr == "requires_grad_":
                flag = self._truth(keyword(node, "requires_grad"), default=1)
            if func.attr in MUTATORS and base[0] == "L" and isinstance(func.value, ast.Name):
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
            parts = dotted(node)
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
                return ("T", self._truth(keyword(node, "requires_grad"), default=0), ident)
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
            # a loss holds a tensor only through `weight`/`pos_weight` (or positionally)
            bare = not node.args and not any(k.arg in (None, "weight", "pos_weight") for k in node.keywords)
            if last in V.INERT_MODULES or (bare and last in V.INERT_WITHOUT_ARGUMENTS):
                return V.OTHER  # nothing registration would keep (see values.INERT_MODULES)
            return ("M", ident)
        return U

    def _mutate_local(self, name: str, how: str, args: list[Value]) -> None:
        value = self.env[name]
        op = MUTATORS[how]
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
            target = const_str(args[0]) if args else const_str(keyword(node, "name"))
            value_node = (
                args[1]
                if len(args) > 1
                else (keyword(node, "tensor") or keyword(node, "param") or keyword(node, "module"))
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
        target = const_str(args[0]) if args else None
        value = self.ev(args[1]) if len(args) > 1 else U
        if target is None:
            self.out.append(["dyn", node.lineno])
        else:
            self.out.append(["w", target, value, node.lineno, node.col_offset + 1, "setattr"])
        return V.N


_EV = {
    getattr(ast, name[3:]): f
    for name, f in vars(Expressions).items()
    if name.startswith("ev_") and hasattr(ast, name[3:])
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


def keyword(node: ast.Call, name: str) -> ast.expr | None:
    for k in node.keywords:
        if k.arg == name:
            return k.value
    return None
