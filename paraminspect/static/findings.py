"""PI001-PI004 from a construction path's outcome: certain evidence only, worded as the built
engine words the same rule (paraminspect/checks/registration.py; tests compare the two), with
the fix kind it would choose. The class checked is the root: `module` is "".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from paraminspect.static.flow import Outcome, Site
from paraminspect.static.model import StaticFinding
from paraminspect.static.project import ClassRef
from paraminspect.static.values import Value

ERROR, WARNING = "error", "warning"
SEVERITY = {"PI001": ERROR, "PI002": WARNING, "PI003": ERROR, "PI004": ERROR}
_SHOWN = 4
_MAX_NESTING = 3
_CONTAINER_WORDS = {"list": "a Python list", "tuple": "a Python tuple", "dict": "a Python dict", "set": "a Python set"}
NESTED = "the entries sit in nested containers; restructure them by hand"
MIXED = "they are held in a set or in containers of several kinds; restructure them by hand"


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def _listing(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


class _Item:
    """One entry found inside a container attribute."""

    def __init__(self, access: str, container: str, nested: bool, value: Value) -> None:
        self.access, self.container, self.nested, self.value = access, container, nested, value


def _items(value: Value, access: str, nested: bool, depth: int = 0) -> list[_Item]:
    out = []
    for elem, key, many in value[2]:
        step = "[...]" if many or key is None else f"[{key}]"
        if elem[0] == "L" and elem[1] != "gen" and depth < _MAX_NESTING:
            out.extend(_items(elem, access + step, True, depth + 1))
        else:
            out.append(_Item(access + step, value[1], nested, elem))
    return out


def _container_fix(items: list[_Item], list_kind: str, dict_kind: str) -> tuple[str, str]:
    if any(i.nested for i in items):
        return "", NESTED
    kinds = {i.container for i in items}
    if kinds <= {"list", "tuple"}:
        return list_kind, ""
    if kinds == {"dict"}:
        return dict_kind, ""
    return "", MIXED


def _container_text(items: list[_Item]) -> str:
    return " / ".join(_CONTAINER_WORDS.get(k, "a Python container") for k in dict.fromkeys(i.container for i in items))


def _counted(items: list[_Item], word: str) -> tuple[str, int | None]:
    """ "2 tensors" (known count) or "tensors" (a comprehension or a loop: unknown count)."""
    if any("[...]" in i.access for i in items):
        return word + "s", None
    return _plural(len(items), word), len(items)


def _tensor(attr: str, value: Value, out: Outcome) -> tuple[str, str, str, str] | None:
    """(code, message, fix, no_fix) for a plain tensor (or tensor-or-None) value, else None."""
    members = value[1] if value[0] == "OR" else [value]
    tensors = [m for m in members if m[0] == "T"]
    if not tensors or any(m[0] not in ("T", "N") for m in members):
        return None
    grads = {m[1] for m in tensors}
    if len(grads) != 1 or grads == {2} or out.moves_own or out.torch_names:
        return None
    buffers = {out.buffer_ids.get(m[2]) for m in tensors}
    if len(buffers) == 1 and None not in buffers and buffers != {attr}:
        buffer = buffers.pop() or ""
        return (
            "PI002",
            f"`{attr}` is a plain attribute that aliases buffer `{buffer}`: .to() replaces the buffer and this "
            f"attribute keeps the old tensor; read self.{buffer} (or getattr) where it is used instead",
            "",
            "the code that reads the alias must read the buffer instead, not the assignment",
        )
    if grads == {1}:
        return (
            "PI001",
            f"`{attr}` is a plain tensor attribute with requires_grad=True: it is not in parameters(), so the "
            f"optimizer never trains it, and state_dict() never saves it; use self.{attr} = nn.Parameter(...)",
            "parameter",
            "",
        )
    return (
        "PI002",
        f"`{attr}` is a plain tensor attribute: .to()/.cuda() do not move it and state_dict() does not save it; "
        f'use self.register_buffer("{attr}", ...) (persistent=False if it is derived data)',
        "buffer",
        "",
    )


def _modules(attr: str, items: list[_Item], out: Outcome) -> tuple[str, tuple[str, ...], str, str, str] | None:
    loose = [i for i in items if i.value[0] == "M" and i.value[1] not in out.kept_ids]
    if not loose:
        return None
    names = tuple(dict.fromkeys(attr + i.access for i in loose))
    counted, n = _counted(loose, "nn.Module")
    fix_text = "use nn.ModuleDict" if any(i.container == "dict" for i in loose) else "use nn.ModuleList"
    kind, no_fix = _container_fix(loose, "module-list", "module-dict")
    one = n == 1
    message = (
        f"`{attr}`: {counted} held in {_container_text(loose)} ({_listing(names)}) {'is' if one else 'are'} not "
        f"registered: {'its' if one else 'their'} tensors are invisible to parameters(), .to() and state_dict(), "
        f"and .train()/.eval() do not reach {'it' if one else 'them'}; {fix_text}"
    )
    return "PI004", names, message, kind, no_fix


def _tensors(attr: str, items: list[_Item], out: Outcome) -> tuple[str, tuple[str, ...], str, str, str] | None:
    loose: list[_Item] = []
    stale: list[tuple[_Item, str]] = []
    for i in items:
        k = i.value[0]
        if k == "T":
            if i.value[1] == 2:
                return None  # whether it requires grad decides the advice: not certain
            buffer = out.buffer_ids.get(i.value[2])
            if buffer is not None:
                stale.append((i, buffer))
            else:
                loose.append(i)
        elif k in ("P", "BUF") and i.value[1] not in out.kept_ids:
            loose.append(i)
    if not loose and not stale:
        return None
    if loose and out.moves_own:
        return None
    parts = []
    trainable = [i for i in loose if i.value[0] == "P" or (i.value[0] == "T" and i.value[1] == 1)]
    if loose:
        if len(trainable) == len(loose) and trainable:
            holder = "nn.ParameterDict" if any(i.container == "dict" for i in loose) else "nn.ParameterList"
            advice = f"use {holder} (or nn.Parameter attributes)"
        elif trainable:
            advice = "use nn.ParameterList (or nn.Parameter attributes)"
        else:
            advice = "register each with self.register_buffer(...) and look them up by name"
        counted, n = _counted(loose, "tensor")
        listing = _listing(dict.fromkeys(attr + i.access for i in loose))
        parts.append(
            f"{counted} held in {_container_text(loose)} ({listing}) {'is' if n == 1 else 'are'} not registered: "
            f"not in parameters(), not moved by .to(), not saved by state_dict(); {advice}"
        )
    if stale:
        buffers = list(dict.fromkeys(b for _i, b in stale))
        parts.append(
            f"it keeps references to {_plural(len(buffers), 'registered buffer')} ({_listing(buffers)}): .to() "
            "replaces buffers, so these references go stale; look the buffers up by name (getattr) when needed"
        )
    names = tuple(dict.fromkeys([*(attr + i.access for i in loose), *(b for _i, b in stale)]))
    if stale:
        kind, no_fix = "", "the code must look the registered buffers up by name where it uses them"
    elif len(trainable) != len(loose):
        kind, no_fix = "", "plain tensors become buffers, each under its own name, and the code that reads them changes"
    else:
        kind, no_fix = _container_fix(loose, "parameter-list", "parameter-dict")
    return "PI003", names, f"`{attr}`: " + "; ".join(parts), kind, no_fix


def _judge(attr: str, value: Value, out: Outcome) -> list[tuple[str, tuple[str, ...], str, str, str]]:
    tensor = _tensor(attr, value, out)
    if tensor is not None:
        code, message, fix, no_fix = tensor
        return [(code, (attr,), message, fix, no_fix)]
    if value[0] != "L" or value[1] == "gen" or attr in out.escaped or value[3] in out.kept_ids:
        return []
    items = _items(value, "", False)
    found = []
    for judge in (_tensors, _modules):
        result = judge(attr, items, out)
        if result is not None:
            found.append(result)
    return found


def class_findings(cls: ClassRef, out: Outcome) -> list[StaticFinding]:
    """The findings of one class whose construction path was followed."""
    if out.note or out.final is None:
        return []
    chosen: dict[tuple[str, str], tuple[int, Site, Any]] = {}
    for attr, sites in out.final.items():
        if attr in out.registered or attr in out.not_plain:
            continue
        for site, value in sites.items():
            if not site[5]:
                continue  # an assignment in library code: not the project's to fix
            for code, names, message, fix, no_fix in _judge(attr, value, out):
                rank = out.order.get(site, 0)
                key = (attr, code)
                if key not in chosen or rank < chosen[key][0]:
                    chosen[key] = (rank, site, (names, message, fix, no_fix))
    findings = []
    for (attr, code), (_rank, site, (names, message, fix, no_fix)) in chosen.items():
        findings.append(
            StaticFinding(
                code=code,
                severity=SEVERITY[code],
                file=site[0],
                line=site[1],
                col=site[2],
                cls=cls.qualname,
                owner=site[3],
                attribute=attr,
                names=names,
                message=message,
                fix=fix,
                no_fix=no_fix,
                cls_file=cls.file.path,
            )
        )
    return sorted(findings, key=lambda f: (f.file, f.line, f.code, f.attribute))
