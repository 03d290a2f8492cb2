"""Registration rules PI001-PI004: tensors and modules that parameters(), .to() and
state_dict() do not see, and PI014: a module nn.Module.__init__ never ran on, so that nothing
in it is registered. PI005-PI010, informational facts about how tensors are
registered, are in registered.py (which shares the wording helpers here).

Importable without torch (`paraminspect rules` / `explain`): the check functions only read
the plain records of an Inventory, so kind names are spelled out here instead of imported
from paraminspect.tensors.records.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from paraminspect.checks import registration_examples as examples
from paraminspect.checks.frameworks import framework_owns
from paraminspect.checks.rule import ERROR, WARNING, Finding, FixKind, Rule
from paraminspect.checks.torch_arguments import at_creation, torch_argument
from paraminspect.checks.unregistered_fixes import PI001_FIX, PI002_FIX, PI003_FIX, PI004_FIX
from paraminspect.wording import listing, plural

_PARAMETER, _BUFFER = "parameter", "buffer"  # a reference's registered_kind

# How many names a message spells out before it says "and N more" (the finding's `names`
# always has all of them).
_SHOWN = 4


def _listing(names: Iterable[str]) -> str:
    return listing(list(names), _SHOWN)


def _dotted(module: str, attribute: str) -> str:
    return f"{module}.{attribute}" if module else attribute


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _registered_modules(inv: Any) -> set[str]:
    return {m.path for m in inv.modules if m.registered}


def _grouped_references(ctx: Any, target: str) -> Iterator[tuple[tuple[str, str], list[Any]]]:
    """References to `target` ("tensor"/"module") grouped by (owner module, attribute), in
    inventory order. References whose owner is itself an unregistered module (found inside
    a container) are skipped: the finding at the outermost attribute covers them."""
    registered = _registered_modules(ctx.inventory)
    classes = getattr(ctx.inventory, "module_classes", {})
    moved = getattr(ctx.inventory, "moved_by_apply", None)  # places an `_apply` override moves
    groups: dict[tuple[str, str], list[Any]] = {}
    for ref in ctx.inventory.references:
        if ref.target == target and ref.module in registered:
            if target == "tensor" and moved and (ref.module, ref.attribute, ref.access) in moved:
                continue  # the model's own _apply moves this one (see checks/frameworks.py)
            groups.setdefault((ref.module, ref.attribute), []).append(ref)
    for (module, attribute), refs in groups.items():
        if target == "tensor" and framework_owns(classes.get(module), attribute, apply_observed=moved is not None):
            continue  # moved by the framework's own code (see checks/frameworks.py)
        yield (module, attribute), refs


def _finding(
    rule: Rule,
    module: str,
    attribute: str,
    names: Iterable[str],
    message: str,
    fix: FixKind = FixKind.NONE,
    no_fix: str = "",
) -> Finding:
    """`fix`: the kind of automatic fix (paraminspect.fixes) that applies; else `no_fix` says
    why there is none, for rules that have fixes."""
    return Finding(rule.code, rule.severity, module, attribute, _unique(names), message, fix=fix, no_fix=no_fix)


def _fixable_after_init(ctx: Any, findings: list[Finding]) -> list[Finding]:
    """No automatic fix on a module nn.Module.__init__ never ran on (PI014): register_buffer,
    nn.Parameter or nn.ModuleList there would raise until super().__init__() is called."""
    blocked = set(getattr(ctx.inventory, "uninitialised", ()))
    if not blocked:
        return findings
    why = "the module never calls nn.Module.__init__() (PI014): add super().__init__() first"
    return [dataclasses.replace(f, fix=FixKind.NONE, no_fix=why) if f.module in blocked else f for f in findings]


_ONE_INDEX = re.compile(r"\[[^\[\]]*\]")


def _container_fix(refs: list[Any], list_kind: FixKind, dict_kind: FixKind) -> tuple[FixKind, str]:
    """(fix kind, "") when every reference is an entry of one list/tuple (or of one dict),
    else ("", why not)."""
    kinds = {r.container for r in refs}
    if kinds & {None, "object"}:
        return FixKind.NONE, "they are held by a plain object, not a list or dict; restructure them by hand"
    if not all(_ONE_INDEX.fullmatch(r.access) for r in refs):
        return FixKind.NONE, "the entries sit in nested containers; restructure them by hand"
    if kinds <= {"list", "tuple"}:
        return list_kind, ""
    if kinds == {"dict"}:
        return dict_kind, ""
    return FixKind.NONE, "they are held in a set or in containers of several kinds; restructure them by hand"


# --- PI001 / PI002: plain tensor attributes ------------------------------------------------


def _plain_tensor_refs(ctx: Any) -> Iterator[tuple[tuple[str, str], Any]]:
    for key, refs in _grouped_references(ctx, "tensor"):
        for ref in refs:
            if ref.container is None:
                yield key, ref


def check_trainable_tensor_attribute(ctx: Any) -> list[Finding]:
    out = []
    for (module, attribute), ref in _plain_tensor_refs(ctx):
        if ref.registered_as is None and ref.requires_grad:
            out.append(
                _finding(
                    PI001,
                    module,
                    attribute,
                    [ref.name],
                    f"`{_dotted(module, attribute)}` is a plain tensor attribute with requires_grad=True: "
                    "it is not in parameters(), so the optimizer never trains it, and state_dict() never saves it; "
                    f"use self.{attribute} = nn.Parameter(...)",
                    fix=FixKind.PARAMETER,
                )
            )
    return _fixable_after_init(ctx, out)


def check_tensor_attribute(ctx: Any) -> list[Finding]:
    out = []
    for (module, attribute), ref in _plain_tensor_refs(ctx):
        path = _dotted(module, attribute)
        fix, no_fix = FixKind.BUFFER, ""
        owner = torch_argument(ctx, module, attribute) if ref.registered_as is None else None
        if owner is not None:
            message = (
                f"`{path}` is a tensor: nn.{owner} was built with a tensor for its `{attribute}` argument, "
                f"where a number belongs; .to() does not move it and state_dict() does not save it: "
                f"pass a Python number where the nn.{owner} is created (computed without tensors: int(t) "
                "reads tensor data, which fails on the meta device)"
            )
            no_fix = "the call that builds the module must pass a number"
            finding = _finding(PI002, module, attribute, [ref.name], message, "", no_fix)
            out.append(at_creation(ctx, module, finding))
            continue
        if ref.registered_as is None and not ref.requires_grad:
            message = (
                f"`{path}` is a plain tensor attribute: .to()/.cuda() do not move it and state_dict() does not "
                f'save it; use self.register_buffer("{attribute}", ...) (persistent=False if it is derived data)'
            )
        elif ref.registered_kind == _BUFFER:
            message = (
                f"`{path}` is a plain attribute that aliases buffer `{ref.registered_as}`: .to() replaces the buffer "
                f"and this attribute keeps the old tensor; read self.{ref.registered_as.rsplit('.', 1)[-1]} "
                "(or getattr) where it is used instead"
            )
            fix, no_fix = FixKind.NONE, "the code that reads the alias must read the buffer instead, not the assignment"
        else:
            continue
        out.append(_finding(PI002, module, attribute, [ref.name], message, fix, no_fix))
    return _fixable_after_init(ctx, out)


# --- PI003 / PI004: Python containers ------------------------------------------------------

_CONTAINER_WORDS = {
    "list": "a Python list",
    "tuple": "a Python tuple",
    "dict": "a Python dict",
    "set": "a Python set",
    "object": "a plain object",
    None: "a plain attribute",
}


def _container_text(refs: list[Any]) -> str:
    kinds = dict.fromkeys(r.container for r in refs)
    return " / ".join(_CONTAINER_WORDS.get(k, "a Python container") for k in kinds)


def check_tensors_in_container(ctx: Any) -> list[Finding]:
    out = []
    for (module, attribute), refs in _grouped_references(ctx, "tensor"):
        # Registered Parameters listed for convenience stay valid: .to() updates a
        # Parameter in place. Unregistered tensors never move; registered buffers are
        # replaced by .to(), so a list of them goes stale.
        flagged = [
            r for r in refs if r.container is not None and (r.registered_as is None or r.registered_kind == _BUFFER)
        ]
        if not flagged:
            continue
        path = _dotted(module, attribute)
        stale = [r for r in flagged if r.registered_as is not None]
        loose = [r for r in flagged if r.registered_as is None]
        parts = []
        if loose:
            trainable = any(r.requires_grad or r.is_parameter for r in loose)
            if trainable:
                fix = "nn.ParameterDict" if any(r.container == "dict" for r in loose) else "nn.ParameterList"
                fix = f"use {fix} (or nn.Parameter attributes)"
            else:
                fix = "register each with self.register_buffer(...) and look them up by name"
            parts.append(
                f"{plural(len(loose), 'tensor')} held in {_container_text(loose)} ({_listing(r.name for r in loose)}) "
                f"{'is' if len(loose) == 1 else 'are'} not registered: not in parameters(), not moved by .to(), "
                f"not saved by state_dict(); {fix}"
            )
        if stale:
            parts.append(
                f"it keeps references to {plural(len(stale), 'registered buffer')} "
                f"({_listing(r.registered_as for r in stale)}): .to() replaces buffers, so these references go "
                "stale; look the buffers up by name (getattr) when needed"
            )
        names = [r.name for r in loose] + [r.registered_as for r in stale]
        if stale:
            fix, no_fix = FixKind.NONE, "the code must look the registered buffers up by name where it uses them"
        elif not all(r.requires_grad or r.is_parameter for r in loose):
            # nn.ParameterList would turn them into trainable Parameters
            fix, no_fix = (
                "",
                "plain tensors become buffers, each under its own name, and the code that reads them changes",
            )
        else:
            fix, no_fix = _container_fix(loose, FixKind.PARAMETER_LIST, FixKind.PARAMETER_DICT)
        out.append(_finding(PI003, module, attribute, names, f"`{path}`: " + "; ".join(parts), fix, no_fix))
    return _fixable_after_init(ctx, out)


def _within(module_paths: list[str]) -> Callable[[str], bool]:
    """Whether a module path is one of `module_paths` or lies inside one (`.` or `[`)."""
    prefixes = tuple(p + sep for p in module_paths for sep in (".", "["))
    return lambda path: path in module_paths or path.startswith(prefixes)


def _hidden_tensors(inv: Any, module_paths: list[str]) -> int:
    """Unregistered tensors that live inside the given (unregistered) modules."""
    inside = _within(module_paths)
    return sum(1 for r in inv.tensors if r.kind == "unregistered" and inside(r.module))


def _reads_training(cls: type) -> bool:
    """Whether a method the class defines (or inherits below nn.Module) reads `.training`:
    its behaviour depends on train()/eval() (dropout, batch norm, or the model's own)."""

    def reads(code: Any) -> bool:
        return "training" in code.co_names or any(reads(c) for c in code.co_consts if hasattr(c, "co_names"))

    for klass in cls.__mro__:
        if klass.__module__ == "torch.nn.modules.module" or klass is object:
            continue
        for value in vars(klass).values():
            code = getattr(getattr(value, "__func__", value), "__code__", None)
            if code is not None and reads(code):
                return True
    return False


def _inert(inv: Any, module_paths: list[str]) -> bool:
    """Modules that hold no tensor and whose behaviour train()/eval() cannot change (no
    module inside reads `.training`): leaving them unregistered changes nothing that
    parameters(), .to(), state_dict() or the mode reach, e.g. the stateless kernel wrappers
    transformers keeps in `_kernel_funcs`. Unknown classes count as not inert."""
    classes = getattr(inv, "module_classes", None) or {}
    within = _within(module_paths)
    inside = [m.path for m in inv.modules if within(m.path)]
    if not inside or any(path not in classes for path in inside):
        return False
    return not any(_reads_training(classes[path]) for path in inside)


def check_modules_in_container(ctx: Any) -> list[Finding]:
    out = []
    for (module, attribute), refs in _grouped_references(ctx, "module"):
        loose = [r for r in refs if r.registered_as is None]
        if not loose:
            continue
        names = list(_unique(r.name for r in loose))
        hidden = _hidden_tensors(ctx.inventory, names)
        if hidden == 0 and _inert(ctx.inventory, names):
            continue
        fix = "nn.ModuleDict" if any(r.container == "dict" for r in loose) else "nn.ModuleList"
        if all(r.container is None for r in loose):
            fix = f"assign it normally (self.{attribute} = module) so that nn.Module registers it"
        else:
            fix = f"use {fix}"
        kind, no_fix = _container_fix(loose, FixKind.MODULE_LIST, FixKind.MODULE_DICT)
        out.append(
            _finding(
                PI004,
                module,
                attribute,
                names,
                f"`{_dotted(module, attribute)}`: {plural(len(names), 'nn.Module')} held in {_container_text(loose)} "
                f"({_listing(names)}) {'is' if len(names) == 1 else 'are'} not registered: "
                f"{plural(hidden, 'tensor')} inside {'is' if hidden == 1 else 'are'} invisible to parameters(), "
                f".to() and state_dict(), and .train()/.eval() do not reach {'it' if len(names) == 1 else 'them'}; "
                f"{fix}",
                kind,
                no_fix,
            )
        )
    return _fixable_after_init(ctx, out)


# --- PI014: a module nn.Module.__init__ never ran on ----------------------------------------


def check_init_not_called(ctx: Any) -> list[Finding]:
    from paraminspect.sources import init_location

    out = []
    inv = ctx.inventory
    for path in getattr(inv, "uninitialised", ()):
        cls = inv.module_classes.get(path)
        name = getattr(cls, "__name__", "the module")
        where = f"`{path}` ({name})" if path else f"the model ({name})"
        message = (
            f"{where} never calls nn.Module.__init__(): parameters(), state_dict(), .to() and .train() raise "
            f"AttributeError on it, and nothing assigned to it is registered; call super().__init__() first in "
            f"{name}.__init__"
        )
        finding = Finding(PI014.code, PI014.severity, path, "", (path or name,), message)
        location = init_location(cls) if cls is not None else None
        if location is not None:
            finding = dataclasses.replace(finding, file=location.file, line=location.line)
        out.append(finding)
    return out


# --- the catalog ---------------------------------------------------------------------------

PI001 = Rule(
    "PI001",
    "unregistered-trainable-tensor",
    ERROR,
    "Plain tensor attribute with requires_grad=True: never trained, never saved.",
    """\
A tensor assigned to a module attribute is just a Python attribute: nn.Module only registers
nn.Parameter objects (and buffers you register explicitly). A plain tensor with
requires_grad=True looks trainable, but it is not in model.parameters(), so the optimizer
never updates it; it is not in state_dict(), so checkpoints lose it; and .to()/.cuda() leave
it on its old device.

Fix: make it an nn.Parameter (without requires_grad=True: a Parameter requires grad by
default).
""",
    check_trainable_tensor_attribute,
    fix=PI001_FIX,
    examples=examples.PI001,
)

PI002 = Rule(
    "PI002",
    "unregistered-tensor",
    WARNING,
    "Plain tensor attribute: not moved by .to(), not saved in state_dict.",
    """\
A tensor assigned to a module attribute is not registered: model.to("cuda") leaves it on the
CPU (the forward pass then fails with a device mismatch, or silently runs on the wrong
device), and state_dict() does not save it. The same holds for a plain attribute that
points at a registered buffer: .to() replaces the buffer with a new tensor and the plain
attribute keeps the old one.

Fix: register it as a buffer with register_buffer; persistent=False for data derived at
construction time (it then moves with .to() but is not saved). Code that reads an alias of a
buffer should read the buffer itself.

If the tensor really must stay where it is, allow it by name ([tool.paraminspect] allow) or
put `# noqa: PI002` on the assignment.
""",
    check_tensor_attribute,
    fix=PI002_FIX,
    examples=examples.PI002,
)

PI003 = Rule(
    "PI003",
    "tensors-in-python-container",
    ERROR,
    "Tensors held in a Python list/tuple/dict/set or plain object: not registered.",
    """\
nn.Module does not look inside Python lists, tuples, dicts, sets, dataclasses or other plain
objects. Tensors kept there are not in parameters() (never trained), not in state_dict()
(never saved) and not moved by .to(). A list of references to registered buffers is a
subtler version of the same bug: .to() replaces every buffer with a new tensor, and the list
keeps pointing at the old ones.

References to registered Parameters inside a Python list are not reported: .to() updates a
Parameter in place, so the list stays valid.

Fix: nn.ParameterList / nn.ParameterDict for trainable tensors; register_buffer for the
others, each under its own name (look them up by name, or keep the list of names).
""",
    check_tensors_in_container,
    fix=PI003_FIX,
    examples=examples.PI003,
)

PI004 = Rule(
    "PI004",
    "modules-in-python-container",
    ERROR,
    "nn.Modules held in a Python list/tuple/dict: their tensors are invisible.",
    """\
Submodules are registered only when assigned directly to an attribute or kept in
nn.ModuleList / nn.ModuleDict / nn.Sequential. Modules kept in a Python list, tuple or dict
are not: their parameters are not in model.parameters() (the optimizer never trains them),
not in state_dict() (checkpoints lose them), not moved by .to(), and .train()/.eval() do
not reach them (dropout and batch norm stay in the wrong mode).

Modules that hold no tensor and whose behaviour no train()/eval() changes (activations,
pooling, padding, bare losses, stateless wrappers such as the kernel functions transformers
keeps in `_kernel_funcs`) lose nothing and are not reported: the built check looks (no
tensor inside, no module that reads `.training`), the static pass knows torch.nn's.

Fix: nn.ModuleList (nn.ModuleDict for a dict).
""",
    check_modules_in_container,
    fix=PI004_FIX,
    examples=examples.PI004,
)

PI014 = Rule(
    "PI014",
    "module-init-not-called",
    ERROR,
    "A module whose __init__ never calls nn.Module.__init__(): nothing in it is registered.",
    """\
nn.Module.__init__() creates the dictionaries a module registers its parameters, buffers and
submodules in. A subclass whose __init__ never calls it (no super().__init__()) can still be
built, and attributes can still be assigned to it, but they land in the instance's plain
__dict__: its tensors are plain attributes, and parameters(), named_modules(), state_dict(),
.to() and .train() raise AttributeError on it and on any model that holds it. An inspector
walking it would see an empty, clean module.

Fix: call super().__init__() as the first statement of the class's __init__ (before any
attribute is assigned).
""",
    check_init_not_called,
    examples=examples.PI014,
)

RULES: list[Rule] = [PI001, PI002, PI003, PI004, PI014]
