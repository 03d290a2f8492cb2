"""Names in a file: its import table (local name -> ref), torch's names, and the names a
class registers anywhere in its text (found without parsing: any method, read or not)."""

from __future__ import annotations

import ast
import re

_REGISTER_CALL = re.compile(r"""(?:register_buffer|register_parameter|register_module|add_module)\(\s*['"](\w+)""")
# Calls whose result assigned to self.x registers x (found with str.find: a regex without a
# literal prefix would try every position of the file).
_HOLDER_CALLS = (
    "Parameter(", "ParameterList(", "ParameterDict(", "ModuleList(", "ModuleDict(", "Sequential(", "Buffer(",
)  # fmt: skip
_SELF_TARGET = re.compile(r"self\.(\w+)\s*(?::[^=\n]*)?=\s*(?:[\w.]+\.)?$")


def dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def const_str(node: ast.expr | None) -> str | None:
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
        parts = dotted(node)
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
