"""How a file names torch.nn's classes: `nn.X`, `torch.nn.X`, an alias (`tnn.X`), or the bare
name it imported (`from torch.nn import ModuleList`). Only module-level imports count: they
are the names every method of the file can see."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

# Where each class the fixes write can be imported from, besides torch.nn itself.
_ALSO_FROM = {"Parameter": ("torch.nn.parameter",)}


def _dotted(node: cst.BaseExpression) -> str:
    """`torch.nn` for an Attribute chain of Names, "" for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute) and isinstance(node.value, (cst.Name, cst.Attribute)):
        left = _dotted(node.value)
        return f"{left}.{node.attr.value}" if left else ""
    return ""


def _top_level_imports(module: cst.Module) -> Iterator[cst.Import | cst.ImportFrom]:
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    yield small


def _bound(alias: cst.ImportAlias) -> str:
    """The name an import alias binds (`import torch.nn` binds `torch`)."""
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return _dotted(alias.name).split(".")[0]


class Spelling:
    """The file's way to name `torch.nn.<name>`; `needs_import` when it has none, in which
    case the fix adds `from torch import nn`."""

    def __init__(self, module: cst.Module) -> None:
        self.direct: dict[str, str] = {}  # class name -> the local name it was imported as
        self.nn_module: str | None = None  # `nn`, `tnn`: a name bound to torch.nn itself
        self.torch_nn: str | None = None  # `torch.nn`, `T.nn`: reached through torch
        for node in _top_level_imports(module):
            if isinstance(node, cst.Import):
                for alias in node.names:
                    name = _dotted(alias.name)
                    if name == "torch.nn" and alias.asname is not None:
                        self.nn_module = self.nn_module or _bound(alias)
                    elif name in ("torch", "torch.nn") or name.startswith("torch."):
                        # `import torch.x` binds `torch`, and importing torch imports torch.nn
                        self.torch_nn = self.torch_nn or f"{_bound(alias)}.nn"
            elif node.module is not None and not node.relative and not isinstance(node.names, cst.ImportStar):
                source = _dotted(node.module)
                for alias in node.names:
                    imported = _dotted(alias.name)
                    if source == "torch" and imported == "nn":
                        self.nn_module = self.nn_module or _bound(alias)
                    elif source == "torch.nn" or source in _ALSO_FROM.get(imported, ()):
                        self.direct.setdefault(imported, _bound(alias))
        self.needs_import = not (self.nn_module or self.torch_nn)

    def name(self, cls: str) -> str:
        """How to write torch.nn.<cls> in this file."""
        if cls in self.direct:
            return self.direct[cls]
        if self.nn_module:
            return f"{self.nn_module}.{cls}"
        if self.torch_nn:
            return f"{self.torch_nn}.{cls}"
        return f"nn.{cls}"

    def uses_import(self, cls: str) -> bool:
        """True when writing `cls` needs the `from torch import nn` the file lacks."""
        return cls not in self.direct and self.needs_import


def expression(dotted: str) -> cst.BaseExpression:
    """`nn.ModuleList` -> the CST expression."""
    node: cst.BaseExpression | None = None
    for part in dotted.split("."):
        node = cst.Name(part) if node is None else cst.Attribute(value=node, attr=cst.Name(part))
    assert node is not None
    return node


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_import(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
    )


def add_nn_import(module: cst.Module) -> cst.Module:
    """`from torch import nn` after the module's leading imports (after its docstring when
    it has none), the rest of the file untouched."""
    body = list(module.body)
    index = 0
    if body and _is_docstring(body[0]):
        index = 1
    for i in range(index, len(body)):
        if _is_import(body[i]):
            index = i + 1
        elif not _is_docstring(body[i]):
            break
    statement = cst.parse_statement("from torch import nn\n")
    assert isinstance(statement, cst.SimpleStatementLine)
    if index > 0 and not _is_import(body[index - 1]):  # right after the docstring: one blank line
        statement = statement.with_changes(leading_lines=[cst.EmptyLine()])
    body.insert(index, statement)
    return module.with_changes(body=body)
