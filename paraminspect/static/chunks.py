"""Parse only the parts of a file that the static pass reads.

`ast.parse` costs about 3 MB/s; transformers' modeling files are 25 MB, but what the pass
needs (imports, class statements, `__init__` and the methods it calls on self) is under a
fifth of that. So a file is cut into statements by their first line, without tokenizing:
a statement starts on a line whose first character, at the block's indentation, is not
blank, a comment, a closing bracket or a continuation keyword (`else`, `except`, ...).
Function bodies the pass does not need are replaced by a one-line stub followed by blank
lines, which keeps every line number, and the rest is parsed as one skeleton.

Cutting on lines can be wrong inside a triple-quoted string. A statement is therefore
extended until the `\"\"\"` and `'''` it holds are balanced, and a function is stubbed only
when its own text is balanced; anything doubtful stays whole. If the skeleton still does
not parse, the whole file is parsed instead: the skeleton is never trusted blindly.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache

_DEF = re.compile(r"(?:async[ \t]+)?def[ \t]+(\w+)")
_CLASS = re.compile(r"class[ \t]+(\w+)")
_SELF_CALL = re.compile(r"self\.(\w+)[ \t]*\(")  # (no \b first: the literal prefix makes it fast)
_SUPER_CALL = re.compile(r"super\([^)]*\)\.(\w+)[ \t]*\(")
_BASE_CALL = re.compile(r"\.(\w+)\([ \t]*$")
_MAIN = re.compile(r"""if[ \t]+__name__[ \t]*==[ \t]*(['"])__main__\1[ \t]*:""")
STUB = "(*_):0"
_INDENTED = re.compile(r"^([ \t]+)(?=[^ \t\r\n#])", re.MULTILINE)
_QUOTES = ('"', "'", 'r"', "r'", 'b"', "b'", 'u"', "u'", 'f"', "f'", 'R"', "R'")
_TOP_ASSIGN = re.compile(r"([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)")
_ALIAS = re.compile(r"[A-Za-z_]\w*[ \t]*=[ \t]*[A-Za-z_][\w.]*")
# Methods that always stay whole: the construction path starts in __init__.
ALWAYS = frozenset({"__init__", "__post_init__"})


@lru_cache(maxsize=64)
def _starts(indent: str) -> re.Pattern[str]:
    # "\n" first (not "^" with MULTILINE): the regex engine then jumps from newline to newline
    ind = re.escape(indent)
    return re.compile(r"\n(?=" + ind + r"[^ \t\r\n\f\v#)\]}])(?!" + ind + r"(?:else|elif|except|finally)\b)")


# (literal first words: a pattern anchored with ^ and MULTILINE is tried at every position)
_TORCH_IMPORT = re.compile(r"import[ \t]+torch(?:\.[\w.]+)?(?:[ \t]+as[ \t]+(\w+))?")
_TORCH_FROM = re.compile(r"from[ \t]+torch(?:\.[\w.]+)?[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)")
# What an assignment needs, in text, to possibly be a finding (else the method is not parsed
# now; its signature is): a torch reference other than a torch.nn module class, a tensor
# method that makes a new plain tensor, a container literal assigned, a self attribute
# filled in place or indexed, setattr. Missing one only loses a finding, never adds one.
# Each check starts with a literal (str.find or a regex with a literal prefix): a pattern that
# starts with \b or an alternation would be tried at every position of the file.
_CONTAINER = re.compile(r"=[ \t]*(?:[\[{(]|(?:list|dict|tuple|set)[ \t]*\()")
_SELF_FILLED = re.compile(r"self\.\w+(?:[ \t]*(?:\[|\+=)|\.(?:append|extend|insert|add|update|requires_grad)\b)")
_FRESH_WORDS = (
    "setattr(",
    ".detach(",
    ".data",
    ".new_zeros(",
    ".new_ones(",
    ".new_empty(",
    ".new_full(",
    ".new_tensor(",
    "requires_grad",
)
_MODULE_CLASS = re.compile(r"(?:nn\.)?[A-Z]\w*[ \t]*\(")


class MaybeFinding:
    """Whether a method's text may hold a finding (see above), for one file's names of torch
    (`import torch as th`, `from torch import nn, zeros`, `import torch.nn.functional as F`)."""

    def __init__(self, text: str) -> None:
        modules = {"torch"}
        functions: set[str] = set()
        for m in _TORCH_IMPORT.finditer(text):
            modules.add(m.group(1) or "torch")
        for m in _TORCH_FROM.finditer(text):
            for item in m.group(1).strip("()").split(","):
                words = item.split("#")[0].split()
                if words and words[-1].isidentifier() and not words[-1][:1].isupper():
                    modules.add(words[-1])  # nn, functional, init, zeros... (classes build modules: no finding)
                    functions.add(words[-1])
        self.prefixes = tuple(m + "." for m in sorted(modules))
        self.calls = tuple(f + "(" for f in sorted(functions))

    def search(self, text: str, start: int, end: int) -> bool:
        if any(text.find(word, start, end) >= 0 for word in _FRESH_WORDS):
            return True
        for pattern in (_CONTAINER, _SELF_FILLED):
            for m in pattern.finditer(text, start, end):
                if pattern is _SELF_FILLED or _assigned_at(text, m.start(), start):
                    return True
        for word in self.calls:
            at = text.find(word, start, end)
            while at >= 0:
                if at == 0 or not (text[at - 1].isalnum() or text[at - 1] in "_."):
                    return True
                at = text.find(word, at + 1, end)
        for prefix in self.prefixes:
            at = text.find(prefix, start, end)
            while at >= 0:
                before = text[at - 1] if at else " "
                after = at + len(prefix)
                if (
                    not (before.isalnum() or before in "_.")
                    and not _MODULE_CLASS.match(text, after, end)
                    and not text.startswith(_NEVER_A_FINDING, after)
                    and not _registered_here(text, at, start)
                ):
                    return True
                at = text.find(prefix, at + 1, end)
        return False


# torch names that never make a finding themselves: dtypes and devices, type annotations,
# grad modes, introspection, initialisers (in place on registered tensors), nn.utils wrappers.
_NEVER_A_FINDING = (
    "float", "int", "bool", "long", "half", "double", "bfloat16", "complex", "uint", "dtype", "finfo(", "iinfo(",
    "device", "Size", "Tensor", "no_grad", "enable_grad", "inference_mode", "autocast", "is_", "get_default",
    "init.", "nn.init.", "utils.", "nn.utils.", "jit.", "compiler.", "cuda.is_", "backends.",
)  # fmt: skip
_REGISTERS = ("register_buffer(", "Parameter(", "Buffer(")


def _statement_start(text: str, at: int, start: int) -> int:
    """The offset of the line where the statement holding `at` begins: lines are walked back
    while the line before ends inside brackets (`(`, `[`, `{`, `,`, a backslash)."""
    line = text.rfind("\n", start, at) + 1
    while line > start:
        prev_end = line - 1
        prev = text.rfind("\n", start, prev_end) + 1
        content = text[prev:prev_end].split("#", 1)[0].rstrip()
        if not content.endswith(("(", "[", "{", ",", "\\")):
            break
        line = prev
    return max(line, start)


def _assigned_at(text: str, at: int, start: int) -> bool:
    """Whether the `=` at `at` assigns (a statement's own `=`), rather than being a keyword
    argument (`kernel_size=(3, 3)`) or part of `==`, `!=`, `<=`, `>=`."""
    if at > start and text[at - 1] in "=!<>":
        return False
    head = text[_statement_start(text, at, start) : at]
    return head.count("(") <= head.count(")") and head.count("[") <= head.count("]")


def _registered_here(text: str, at: int, start: int) -> bool:
    """Whether the torch reference at `at` is inside a statement that registers what it
    makes (`self.register_buffer("x", torch.zeros(3))`, `nn.Parameter(torch.ones(d))`):
    not a finding by itself (a plain tensor made earlier and assigned later is on a line of
    its own)."""
    first = _statement_start(text, at, start)
    line_end = text.find("\n", at)
    statement = text[first : line_end if line_end >= 0 else len(text)]
    return any(word in statement for word in _REGISTERS)


def _signature_end(text: str, start: int, end: int) -> int | None:
    """The offset just after the `:` that ends a def's signature (strings and brackets
    skipped), or None."""
    depth = 0
    i = start
    quote = ""
    while i < end:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        elif ch == "#":
            nl = text.find("\n", i, end)
            i = end if nl < 0 else nl
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ":" and depth == 0:
            return i + 1
        i += 1
    return None


@dataclass
class Stub:
    """A function body left out of the skeleton: its name, the line of its `def`, and its
    first and last lines (decorators included) for a later parse of just that function."""

    name: str
    def_line: int
    first: int
    last: int
    signature: bool = False  # on __init__'s path but with no possible finding: `def` line(s) kept
    maybe: bool | None = None  # whether its text may hold a finding; None: not looked at
    calls: list[str] = field(default_factory=list)  # (signature stubs) the methods it calls, by name


@dataclass
class Skeleton:
    text: str
    stubs: dict[int, Stub] = field(default_factory=dict)  # stub line -> what it replaced
    mains: list[tuple[int, int]] = field(default_factory=list)  # `if __name__ == "__main__":` blocks (lines)
    whole: bool = False  # the whole file was parsed (the skeleton did not parse): no stubs


class _Quotes:
    """Where a text's triple quotes are, to tell quickly whether a span holds an even number
    of each kind (str.count over every candidate span would scan the file many times)."""

    def __init__(self, text: str) -> None:
        self.double = self._find(text, '"""')
        self.single = self._find(text, "'''")

    @staticmethod
    def _find(text: str, quote: str) -> list[int]:
        found = []
        at = text.find(quote)
        while at >= 0:
            found.append(at)
            at = text.find(quote, at + 3)
        return found

    def balanced(self, start: int, end: int) -> bool:
        for where in (self.double, self.single):
            if where and (bisect_left(where, end) - bisect_left(where, start)) % 2:
                return False
        return True


def _statements(text: str, start: int, end: int, indent: str, quotes: _Quotes) -> list[tuple[int, int, bool]]:
    """(start, end, balanced) of the statements of a block at `indent`; decorators belong to
    the statement they decorate, and a statement runs on until its triple quotes are balanced
    (the last one may not be: it ends where the block does)."""
    cuts = [m.start() + 1 for m in _starts(indent).finditer(text, max(start - 1, 0), end)]
    if not cuts or cuts[0] != start:
        cuts.insert(0, start)
    out: list[tuple[int, int, bool]] = []
    i = 0
    while i < len(cuts):
        j = i + 1
        while j < len(cuts) and (
            text.startswith("@", cuts[j - 1] + len(indent)) or not quotes.balanced(cuts[i], cuts[j])
        ):
            j += 1
        stop = cuts[j] if j < len(cuts) else end
        out.append((cuts[i], stop, j < len(cuts) or quotes.balanced(cuts[i], stop)))
        i = j
    return out


def _header_end(text: str, start: int, end: int) -> int | None:
    """Offset just after the line that ends a class statement's header (`class X(A, B):`),
    or None when the body sits on the same line or cannot be told."""
    depth = 0
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        line_end = end if nl < 0 else nl
        line = text[pos:line_end]
        code = line.split("#", 1)[0]
        depth += code.count("(") + code.count("[") - code.count(")") - code.count("]")
        if depth <= 0:
            stripped = code.rstrip()
            if stripped.endswith(":"):
                return None if nl < 0 else nl + 1
            if stripped and not stripped.endswith(("\\", ",")):
                return None  # `class X: pass` on one line, or something odd: keep whole
        if nl < 0:
            return None
        pos = nl + 1
    return None


def _body_indent(text: str, start: int, end: int) -> str | None:
    m = _INDENTED.search(text, start, end)
    return m.group(1) if m else None


class _Builder:
    def __init__(self, text: str, headers_only: bool) -> None:
        self.text = text
        self.headers_only = headers_only
        self.maybe = MaybeFinding(text) if not headers_only else None
        self.quotes = _Quotes(text)
        self.parts: list[str] = []
        self.pos = 0
        self.stubs: dict[int, Stub] = {}
        self.mains: list[tuple[int, int]] = []
        self._line_at = 0
        self._line = 1

    def line_of(self, offset: int) -> int:
        # offsets are asked in increasing order: count newlines incrementally
        if offset < self._line_at:
            self._line_at, self._line = 0, 1
        self._line += self.text.count("\n", self._line_at, offset)
        self._line_at = offset
        return self._line

    def replace(self, start: int, end: int, head: str) -> tuple[int, int]:
        """Put `head` (one line) in place of text[start:end], padded with the newlines it had;
        returns the (first, last) lines replaced."""
        first = self.line_of(start)
        lines = self.text.count("\n", start, end)
        self.parts.append(self.text[self.pos : start])
        self.parts.append(head + "\n" * lines if lines else head)
        self.pos = end
        return first, first + max(lines - 1, 0)

    def calls(self, start: int, end: int) -> list[str]:
        """The methods a method calls on self, super() or a base (`Base.name(self, ...)`)."""
        found = _SELF_CALL.findall(self.text, start, end) + _SUPER_CALL.findall(self.text, start, end)
        at = self.text.find("(self", start, end)
        while at >= 0:
            follows = self.text[at + 5 : at + 6]
            if not (follows.isalnum() or follows == "_"):
                m = _BASE_CALL.search(self.text, max(start, at - 80), at + 1)
                if m is not None:
                    found.append(m.group(1))
            at = self.text.find("(self", at + 1, end)
        return list(dict.fromkeys(found))

    def stub(self, start: int, end: int, indent: str, name: str) -> None:
        """Cut a function off the path of __init__ (whether it may hold a finding, and what
        it calls, is read later, from the file, if a subclass's path reaches it)."""
        def_match = _DEF.search(self.text, start, end)
        first, last = self.replace(start, end, f"{indent}def {name}{STUB}")
        def_line = first + self.text.count("\n", start, def_match.start()) if def_match else first
        self.stubs[first] = Stub(name, def_line, first, last)

    def signature_stub(self, start: int, end: int, at: int, name: str) -> bool:
        """Keep decorators and signature, cut the body (`def f(self, x): ...`); False when
        the signature's end cannot be told (the method then stays whole)."""
        colon = _signature_end(self.text, at, end)
        if colon is None:
            return False
        calls = self.calls(start, end)
        first = self.line_of(start)
        def_line = first + self.text.count("\n", start, at)
        rest = self.text.count("\n", colon, end)
        self.parts.append(self.text[self.pos : colon])
        self.parts.append(" ..." + "\n" * rest)
        self.pos = end
        last = first + max(self.text.count("\n", start, end) - 1, 0)
        self.stubs[def_line] = Stub(name, def_line, first, last, True, False, calls)
        return True

    def block(self, start: int, end: int, indent: str, in_class: bool) -> None:
        statements = _statements(self.text, start, end, indent, self.quotes)
        keep: set[str] = set()
        if in_class and not self.headers_only:
            methods: dict[str, list[tuple[int, int]]] = {}
            for s, e, _ok in statements:
                m = _DEF.match(self.text, self._after_decorators(s, e, indent) + len(indent))
                if m:
                    methods.setdefault(m.group(1), []).append((s, e))
            keep = _called(self.text, methods)
        for s, e, balanced in statements:
            at = self._after_decorators(s, e, indent)
            head = at + len(indent)
            if not balanced:
                continue  # doubtful cuts stay whole
            m = _DEF.match(self.text, head)
            if m:
                if not in_class or m.group(1) not in keep:
                    self.stub(s, e, indent, m.group(1))
                elif self.maybe is not None and not self.maybe.search(self.text, s, e):
                    self.signature_stub(s, e, at, m.group(1))
                continue
            if _CLASS.match(self.text, head):
                header = _header_end(self.text, at, e)
                body_indent = _body_indent(self.text, header, e) if header is not None else None
                if body_indent is not None and len(body_indent) > len(indent) and body_indent.startswith(indent):
                    self.block(header, e, body_indent, True)
                continue
            if self.text.startswith(_QUOTES, head):  # a docstring, or any string statement: no effect
                self.replace(s, e, f"{indent}pass")
                continue
            if not in_class and not indent:
                if _MAIN.match(self.text, at):
                    self.mains.append(self.replace(s, e, "pass"))
                    continue
                assign = _TOP_ASSIGN.match(self.text, head, e)
                if assign is not None and not _ALIAS.fullmatch(self.text[s:e].strip()):
                    # module-level data (tables, docstrings, configs): only its name matters here
                    self.replace(s, e, f"{assign.group(1)} = None")

    def _after_decorators(self, s: int, e: int, indent: str) -> int:
        """The offset of the statement's first line that is not a decorator."""
        pos = s
        while self.text.startswith("@", pos + len(indent)):
            m = _starts(indent).search(self.text, pos, e)
            if m is None:
                return e
            pos = m.start() + 1
        return pos

    def result(self) -> Skeleton:
        self.parts.append(self.text[self.pos :])
        return Skeleton("".join(self.parts), self.stubs, self.mains)


def _called(text: str, methods: dict[str, list[tuple[int, int]]]) -> set[str]:
    """called_methods, with each method given as its spans of `text` (no copies)."""
    keep: set[str] = set()
    todo = [name for name in ALWAYS if name in methods]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        for s, e in methods[name]:
            todo.extend(n for n in _SELF_CALL.findall(text, s, e) if n in methods and n not in keep)
    return keep


def called_methods(methods: dict[str, str]) -> set[str]:
    """__init__ and the methods it calls on self, transitively (by the text of each method)."""
    keep: set[str] = set()
    todo = [name for name in ALWAYS if name in methods]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(n for n in _SELF_CALL.findall(methods[name]) if n in methods and n not in keep)
    return keep


def skeleton(text: str, headers_only: bool = False) -> Skeleton:
    """The file with unneeded function bodies stubbed out (line numbers kept); with
    `headers_only`, every function (a library file: its methods are parsed when needed)."""
    builder = _Builder(text, headers_only)
    builder.block(0, len(text), "", False)
    return builder.result()


def parse_skeleton(text: str, headers_only: bool = False) -> tuple[ast.Module, Skeleton]:
    """The parsed skeleton, or the whole file when the skeleton does not parse (then no
    stubs). A file that does not parse at all raises SyntaxError."""
    sk = skeleton(text, headers_only)
    try:
        return ast.parse(sk.text), sk
    except SyntaxError:
        tree = ast.parse(text)
        return tree, Skeleton(text, {}, _main_blocks_of(tree), whole=True)


def _main_blocks_of(tree: ast.Module) -> list[tuple[int, int]]:
    out = []
    for node in tree.body:
        if isinstance(node, ast.If) and _MAIN.match(ast.unparse(node.test) + ":"):
            out.append((node.lineno, node.end_lineno or node.lineno))
    return out


def parse_function(lines: list[str], first: int, last: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """Parse just one function (lines first..last of the file, 1-based, decorators included),
    with the file's line numbers and columns. None when it does not parse."""
    piece = "".join(lines[first - 1 : last])
    indented = piece[:1] in (" ", "\t")
    source = ("class _S:\n" + piece) if indented else piece
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    node = tree.body[0]
    if indented:
        node = node.body[0]  # type: ignore[attr-defined]
        ast.increment_lineno(node, first - 2)
    else:
        ast.increment_lineno(node, first - 1)
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
