"""The rewrite engine: source text and fix requests in, new source text and one outcome per
request out. No file, process or model access, so it can be tested on strings and called
from any process.

Each request names one assignment (`self.<attribute> = ...` starting on `line`, as the
finding's file:line says) and the kind of fix. Only that statement changes; LibCST keeps
every other byte of the file (comments, blank lines, quotes, formatting) as it was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from paraminspect.checks.rule import FixKind
from paraminspect.fixes.naming import Spelling, add_nn_import, expression

KINDS = tuple(kind for kind in FixKind if kind)
_NOQA = re.compile(r"#\s*noqa\b", re.IGNORECASE)
# Methods where an assignment runs on every call: registering there would re-create the
# parameter (a new, untrained one each step) or re-register the buffer each time.
_PER_CALL = ("forward",)


@dataclass(frozen=True)
class FixRequest:
    code: str
    line: int
    attribute: str
    kind: FixKind


@dataclass(frozen=True)
class FixOutcome:
    request: FixRequest
    applied: bool
    reason: str = ""  # why it was not applied


@dataclass(frozen=True)
class Rewrite:
    source: str
    outcomes: tuple[FixOutcome, ...]

    @property
    def changed(self) -> bool:
        return any(o.applied for o in self.outcomes)


class _Refused(Exception):
    """This assignment cannot be fixed automatically; the message says why."""


def _is_true(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


class _DropRequiresGrad(cst.CSTTransformer):
    """Removes `requires_grad=True` from every call in an expression, keeping the commas and
    line breaks of the argument list as they were written."""

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        args = list(updated.args)
        keep = [
            a for a in args if not (a.keyword is not None and a.keyword.value == "requires_grad" and _is_true(a.value))
        ]
        if len(keep) == len(args):
            return updated
        if keep and args[-1] not in keep:  # the last argument went: its comma (or none) ends the list
            keep[-1] = keep[-1].with_changes(comma=args[-1].comma)
        return updated.with_changes(args=keep)


def _without_requires_grad(value: cst.BaseExpression) -> cst.BaseExpression:
    # `torch.zeros(3).requires_grad_()`: Parameter makes it trainable already
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == "requires_grad_"
        and (not value.args or (len(value.args) == 1 and _is_true(value.args[0].value)))
    ):
        value = value.func.value
    result = value.visit(_DropRequiresGrad())
    assert isinstance(result, cst.BaseExpression)
    return result


def _is_empty(value: cst.BaseExpression) -> bool:
    return isinstance(value, (cst.List, cst.Tuple, cst.Dict)) and not value.elements


def _string_key(key: cst.BaseExpression) -> bool | None:
    """True for a string literal, False for another literal, None when only running the
    code can tell (a name, a call)."""
    if isinstance(key, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return True
    if isinstance(key, (cst.Integer, cst.Float, cst.Imaginary, cst.Tuple)):
        return False
    if isinstance(key, cst.Name) and key.value in ("None", "True", "False"):
        return False
    return None


def _check_container(kind: FixKind, value: cst.BaseExpression) -> None:
    wrapper = kind.wrapper
    if kind.is_dict:
        if isinstance(value, (cst.List, cst.Tuple, cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.Set)):
            raise _Refused(f"the value is not a dict, and {wrapper} needs names")
        keys: list[cst.BaseExpression] = []
        if isinstance(value, cst.Dict):
            keys = [e.key for e in value.elements if isinstance(e, cst.DictElement)]
        elif isinstance(value, cst.DictComp):
            keys = [value.key]
        if any(_string_key(k) is False for k in keys):
            raise _Refused(f"the dict has keys that are not strings, and {wrapper} keys are attribute names")
    elif isinstance(value, (cst.Dict, cst.DictComp)):
        raise _Refused(f"the value is a dict literal, not a list: use {FixKind.MODULE_DICT.wrapper} by hand")
    elif isinstance(value, (cst.Set, cst.SetComp)):
        raise _Refused("a set has no order, so it has no stable names in state_dict(); use a list by hand")


def _wrap(name: str, value: cst.BaseExpression) -> cst.Call:
    args = [] if _is_empty(value) else [cst.Arg(value=value)]
    return cst.Call(func=expression(name), args=args)


def _target_chain(target: cst.BaseExpression) -> list[str]:
    """`self.a.b` -> ["self", "a", "b"]; [] for anything else."""
    parts: list[str] = []
    while isinstance(target, cst.Attribute):
        parts.append(target.attr.value)
        target = target.value
    if not isinstance(target, cst.Name) or not parts:
        return []
    return [target.value, *reversed(parts)]


class _Fixer(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, requests: Sequence[FixRequest], lines: list[str], spelling: Spelling, persistent: bool) -> None:
        super().__init__()
        self.pending = {(r.line, r.attribute): r for r in requests}
        self.outcomes: dict[FixRequest, FixOutcome] = {}
        self.lines = lines
        self.spelling = spelling
        self.persistent = persistent
        self.functions: list[str] = []
        self.needs_import = False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node.name.value)

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        self.functions.pop()
        return updated

    def _request(self, node: cst.CSTNode, target: cst.BaseExpression) -> FixRequest | None:
        chain = _target_chain(target)
        if not chain:
            return None
        line = self.get_metadata(PositionProvider, node).start.line
        return self.pending.get((line, chain[-1]))

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        body = list(updated.body)
        for i, small in enumerate(original.body):
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
                value = small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                targets, value = [small.target], small.value
            else:
                continue
            request = next((r for r in (self._request(small, t) for t in targets) if r is not None), None)
            if request is None:
                continue
            del self.pending[(request.line, request.attribute)]
            try:
                body[i] = self._fix(original, request, targets, value)
            except _Refused as exc:
                self.outcomes[request] = FixOutcome(request, False, str(exc))
            else:
                self.outcomes[request] = FixOutcome(request, True)
        return updated.with_changes(body=body)

    def _fix(
        self,
        statement: cst.SimpleStatementLine,
        request: FixRequest,
        targets: list[cst.BaseExpression],
        value: cst.BaseExpression,
    ) -> cst.BaseSmallStatement:
        position = self.get_metadata(PositionProvider, statement)
        if any(_NOQA.search(line) for line in self.lines[position.start.line - 1 : position.end.line]):
            raise _Refused("the assignment has a `# noqa` comment")
        if len(targets) != 1:
            raise _Refused("the statement assigns several targets at once")
        if self.functions and self.functions[-1] in _PER_CALL:
            raise _Refused(f"it is assigned in {self.functions[-1]}(), which runs on every call; move it to __init__")
        if request.kind not in KINDS:
            raise _Refused(f"no automatic fix of kind {str(request.kind)!r}")
        kind = FixKind(request.kind)
        target = targets[0]
        assert isinstance(target, cst.Attribute)  # _request matched an attribute chain
        if kind is FixKind.BUFFER:
            return self._register_buffer(target, value)
        if kind is FixKind.PARAMETER:
            if isinstance(value, cst.Name) and value.value == "None":
                raise _Refused("the first assignment sets None; fix the one that creates the tensor by hand")
            value = _without_requires_grad(value)
        else:
            _check_container(kind, value)
        cls = kind.wrapper
        self.needs_import |= self.spelling.uses_import(cls)
        return cst.Assign(targets=[cst.AssignTarget(target=target)], value=_wrap(self.spelling.name(cls), value))

    def _register_buffer(self, target: cst.Attribute, value: cst.BaseExpression) -> cst.Expr:
        args = [cst.Arg(value=cst.SimpleString(f'"{target.attr.value}"')), cst.Arg(value=value)]
        if not self.persistent:
            tight = cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
            )
            args.append(cst.Arg(keyword=cst.Name("persistent"), value=cst.Name("False"), equal=tight))
        method = cst.Attribute(value=target.value, attr=cst.Name("register_buffer"))
        return cst.Expr(value=cst.Call(func=method, args=args))


def rewrite_source(source: str, requests: Sequence[FixRequest], *, persistent: bool = False) -> Rewrite:
    """Apply `requests` to `source`. A request whose statement is not found, or that cannot
    be fixed (a `# noqa` line, several targets, an assignment in forward, ...), is left out
    with the reason; everything else in the file stays byte-for-byte.
    `persistent`: buffers are registered with the default persistent=True instead of
    persistent=False (then state_dict() gains them)."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        reason = f"the file does not parse: {exc.message} (line {exc.raw_line})"
        return Rewrite(source, tuple(FixOutcome(r, False, reason) for r in requests))
    fixer = _Fixer(requests, source.splitlines(), Spelling(module), persistent)
    new = MetadataWrapper(module).visit(fixer)
    if fixer.needs_import:
        new = add_nn_import(new)
    outcomes = []
    for request in requests:
        outcome = fixer.outcomes.get(request)
        if outcome is None:
            outcome = FixOutcome(
                request, False, f"no assignment to `{request.attribute}` starts on line {request.line}"
            )
        outcomes.append(outcome)
    text = new.code if any(o.applied for o in outcomes) else source
    return Rewrite(text, tuple(outcomes))
