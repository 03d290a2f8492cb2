"""Best-effort file:line of the statement that created a module attribute.

Reads the source of the owning class and its bases (MRO order) and looks for
`self.attr = ...` (also annotated and augmented assignments, `setattr(self, "attr", ...)`
and `self.register_buffer("attr", ...)`). Chains such as `self.linear1.weight = ...` are
found too. Returns None when the source is unavailable (C extensions, classes built at run
time) or the name was computed (`setattr(self, name, ...)`).
"""

from __future__ import annotations

import ast
import inspect
import linecache
import os
import re
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

NOQA_ALL: frozenset[str] = frozenset()
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_SETTERS = {"setattr": 1, "register_buffer": 0, "register_parameter": 0, "register_module": 0, "add_module": 0}


@dataclass(frozen=True)
class SourceLocation:
    file: str
    line: int


def _attribute_chain(node: ast.expr) -> tuple[str, ...] | None:
    """`self.a.b` -> ("a", "b"); None unless the chain starts at a plain name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or not parts:
        return None
    return tuple(reversed(parts))


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        flat: list[ast.expr] = []
        for target in node.targets:
            flat.extend(target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target])
        return flat
    if isinstance(node, ast.AugAssign) or (isinstance(node, ast.AnnAssign) and node.value is not None):
        return [node.target]
    return []  # a bare annotation (`self.x: Tensor`) assigns nothing


def _setter_chain(node: ast.AST) -> tuple[str, ...] | None:
    """`setattr(self, "x", v)` / `self.register_buffer("x", v)` -> ("x",)."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
        owner, name = node.args[0], node.args[1]
    elif isinstance(func, ast.Attribute) and func.attr in _SETTERS and func.attr != "setattr" and node.args:
        owner, name = func.value, node.args[0]
    else:
        return None
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return None
    prefix = () if isinstance(owner, ast.Name) else _attribute_chain(owner)
    if prefix is None:
        return None
    return (*prefix, name.value)


def assignment_chains(node: ast.AST) -> list[tuple[str, ...]]:
    """The attribute chains a statement assigns: `self.a.b = ...` -> [("a", "b")]."""
    chains = [_attribute_chain(t) for t in _targets(node)] + [_setter_chain(node)]
    return [c for c in chains if c is not None]


def is_torch_class(cls: type) -> bool:
    """Defined by torch itself (torch.nn's built-ins, torch.ao, ...), not by a user or library."""
    return (getattr(cls, "__module__", "") or "").split(".")[0] == "torch"


@lru_cache(maxsize=4096)
def overrides_apply(cls: type) -> bool:
    """The class (not torch itself) overrides `nn.Module._apply`, which `.to()`/`.cuda()` call."""
    return any(
        "_apply" in vars(klass)
        for klass in getattr(cls, "__mro__", ())
        if klass is not object and not is_torch_class(klass)
    )


@lru_cache(maxsize=1024)
def _file_classes(file: str, stamp: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """The lines (first, decorators included, and last) of every class statement of a
    source file by qualified name, the first one for a name defined twice (as inspect finds
    it). Parsed once per file and version (`stamp`): inspect.getsourcelines parses the whole
    file again for each class it is asked about. Only line numbers are kept, not the tree."""
    try:
        tree = ast.parse("".join(linecache.getlines(file)))
    except (SyntaxError, ValueError):
        return {}
    found: dict[str, tuple[int, int]] = {}
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        children = []
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                found.setdefault(prefix + child.name, (first, child.end_lineno or child.lineno))
                children.append((child, f"{prefix}{child.name}."))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                children.append((child, f"{prefix}{child.name}.<locals>."))
            elif not isinstance(child, ast.expr):  # classes sit in statements (if, try, with), not expressions
                children.append((child, prefix))
        stack.extend(reversed(children))  # depth first, in source order
    return found


def class_lines(cls: type) -> tuple[str, list[str], int] | None:
    """(file, lines, first line number) of a class statement, decorators included, as
    inspect.getsourcelines gives them; None when its source is not available (built-ins,
    C extensions, classes made at run time)."""
    try:
        file = inspect.getsourcefile(cls)
    except (OSError, TypeError):
        return None
    if file is None:
        return None
    module = sys.modules.get(getattr(cls, "__module__", "") or "")
    linecache.checkcache(file)  # an edited file is read again, as inspect would
    lines = linecache.getlines(file, getattr(module, "__dict__", None))
    try:
        stat = os.stat(file)
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:  # source held by a loader (zip imports): its text cannot change
        stamp = (0, len(lines))
    span = _file_classes(file, stamp).get(getattr(cls, "__qualname__", ""))
    if span is None:
        return None
    return file, lines[span[0] - 1 : span[1]], span[0]


@lru_cache(maxsize=4096)
def _class_assignments(cls: type, outside_init: bool) -> dict[tuple[str, ...], SourceLocation]:
    """Every attribute chain assigned in the class body's source -> its first line; with
    `outside_init`, only assignments in methods other than __init__ (forward, helpers)."""
    source = class_lines(cls)
    if source is None:
        return {}
    file, lines, start = source
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError:
        return {}
    if outside_init:
        functions = (f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)))
        nodes: Iterable[ast.AST] = (n for f in functions if f.name != "__init__" for n in ast.walk(f))
    else:
        nodes = ast.walk(tree)
    found: dict[tuple[str, ...], SourceLocation] = {}
    for node in nodes:
        for chain in assignment_chains(node):
            location = SourceLocation(file, start + node.lineno - 1)
            if chain not in found or location.line < found[chain].line:
                found[chain] = location
    return found


def find_assignment(
    cls: type, chain: tuple[str, ...] | str, *, outside_init: bool = False, user_only: bool = False
) -> SourceLocation | None:
    """Where `cls` (or a base class) assigns `self.<chain>`; None when not found.
    `outside_init`: only an assignment made outside __init__ (in forward, say); `user_only`:
    only in classes outside installed libraries (see is_library_file)."""
    if isinstance(chain, str):
        chain = (chain,)
    for klass in getattr(cls, "__mro__", ()):
        # torch's own classes are never where a user's bug is: a line inside torch/ would
        # only mislead annotations and SARIF
        if klass is object or is_torch_class(klass) or (user_only and is_library_class(klass)):
            continue
        location = _class_assignments(klass, outside_init).get(chain)
        if location is not None:
            return location
    return None


# --- framework code: the user's line instead ---------------------------------------------------

_LIBRARY_DIRS = ("site-packages", "dist-packages")


@lru_cache(maxsize=4096)
def is_library_file(file: str) -> bool:
    """An installed package's file (site-packages): a line there is not one the user can edit."""
    parts = os.path.normpath(file).split(os.sep)
    return any(d in parts for d in _LIBRARY_DIRS)


@lru_cache(maxsize=4096)
def is_library_class(cls: type) -> bool:
    if is_torch_class(cls):
        return True
    try:
        file = inspect.getsourcefile(cls)
    except (OSError, TypeError):
        return False
    return file is not None and is_library_file(file)


def _function_tree(func: object) -> tuple[ast.AST, str, int] | None:
    try:
        file = inspect.getsourcefile(func)  # type: ignore[arg-type]
        lines, start = inspect.getsourcelines(func)  # type: ignore[arg-type]
        return ast.parse(textwrap.dedent("".join(lines))), file or "", start
    except (OSError, TypeError, SyntaxError):
        return None


@lru_cache(maxsize=1024)
def _property_setters(cls: type) -> dict[str, str]:
    """Attribute a property setter stores -> the property's name (`self._x = value` in `x.setter`)."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or is_torch_class(klass):
            continue
        for name, value in vars(klass).items():
            if not isinstance(value, property) or value.fset is None:
                continue
            parsed = _function_tree(value.fset)
            if parsed is None:
                continue
            for node in ast.walk(parsed[0]):
                for chain in assignment_chains(node):
                    if len(chain) == 1:
                        found[chain[0]] = name
    return found


def _super_init_call(klass: type) -> SourceLocation | None:
    """The `super().__init__(...)` (or `Base.__init__(self, ...)`) line of klass's own __init__."""
    init = vars(klass).get("__init__")
    parsed = _function_tree(init) if init is not None else None
    if parsed is None:
        return None
    tree, file, start = parsed
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__":
            return SourceLocation(file, start + node.lineno - 1)
    return None


def user_location(cls: type, attribute: str) -> SourceLocation | None:
    """The user's line behind an attribute that framework code (a class in site-packages) wrote:
    the assignment to the property whose setter stored it, else the `super().__init__()` call of
    the user's class nearest to the framework base. None when every class is library code."""
    public = _property_setters(cls).get(attribute)
    if public is not None:
        location = find_assignment(cls, public, user_only=True)
        if location is not None:
            return location
    nearest = None
    for klass in cls.__mro__:
        if klass is object or is_library_class(klass):
            continue
        nearest = _super_init_call(klass) or nearest
    return nearest


def init_location(cls: type) -> SourceLocation | None:
    """The `def __init__` line of the class in `cls`'s MRO (torch's own skipped) that defines
    the constructor: where a missing `super().__init__()` belongs."""
    for klass in getattr(cls, "__mro__", ()):
        if klass is object or is_torch_class(klass) or "__init__" not in vars(klass):
            continue
        code = getattr(vars(klass)["__init__"], "__code__", None)
        if code is None or code.co_filename.startswith("<"):
            return None
        line = code.co_firstlineno
        while linecache.getline(code.co_filename, line).lstrip().startswith("@"):  # past decorators
            line += 1
        return SourceLocation(code.co_filename, line)
    return None


def noqa_codes(location: SourceLocation | None) -> frozenset[str] | None:
    """Codes suppressed by a `# noqa` comment on that line: None when there is none,
    NOQA_ALL (empty) for a bare `# noqa`, else the listed codes."""
    if location is None:
        return None
    text = linecache.getline(location.file, location.line)
    match = _NOQA.search(text)
    if match is None:
        return None
    codes = match.group("codes")
    if not codes:
        return NOQA_ALL
    return frozenset(c.upper() for c in re.split(r"[\s,]+", codes) if c)


def is_suppressed(code: str, location: SourceLocation | None) -> bool:
    codes = noqa_codes(location)
    return codes is not None and (codes == NOQA_ALL or any(code.startswith(c) for c in codes))
