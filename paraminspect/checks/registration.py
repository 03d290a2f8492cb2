"""Registration rules PI001-PI010: tensors and modules that parameters(), .to() and
state_dict() do not see, and informational facts about how tensors are registered.

Importable without torch (`paraminspect rules` / `explain`): the check functions only read
the plain records of an Inventory, so kind names are spelled out here instead of imported
from paraminspect.tensors.records.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from paraminspect.checks.frameworks import framework_owns
from paraminspect.checks.model import ERROR, INFO, WARNING, Finding, Rule
from paraminspect.checks.registration_fixes import PI001_FIX, PI002_FIX, PI003_FIX, PI004_FIX
from paraminspect.checks.torch_arguments import at_creation, torch_argument

_PARAMETER, _BUFFER = "parameter", "buffer"
# How many names a message spells out before it says "and N more" (the finding's `names`
# always has all of them).
_SHOWN = 4


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _listing(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


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
    groups: dict[tuple[str, str], list[Any]] = {}
    for ref in ctx.inventory.references:
        if ref.target == target and ref.module in registered:
            groups.setdefault((ref.module, ref.attribute), []).append(ref)
    for (module, attribute), refs in groups.items():
        if target == "tensor" and framework_owns(classes.get(module), attribute):
            continue  # moved by the framework's own code (see checks/frameworks.py)
        yield (module, attribute), refs


def _finding(
    rule: Rule, module: str, attribute: str, names: Iterable[str], message: str, fix: str = "", no_fix: str = ""
) -> Finding:
    """`fix`: the kind of automatic fix (paraminspect.fixes) that applies; else `no_fix` says
    why there is none, for rules that have fixes."""
    return Finding(rule.code, rule.severity, module, attribute, _unique(names), message, fix=fix, no_fix=no_fix)


_ONE_INDEX = re.compile(r"\[[^\[\]]*\]")


def _container_fix(refs: list[Any], list_kind: str, dict_kind: str) -> tuple[str, str]:
    """(fix kind, "") when every reference is an entry of one list/tuple (or of one dict),
    else ("", why not)."""
    kinds = {r.container for r in refs}
    if kinds & {None, "object"}:
        return "", "they are held by a plain object, not a list or dict; restructure them by hand"
    if not all(_ONE_INDEX.fullmatch(r.access) for r in refs):
        return "", "the entries sit in nested containers; restructure them by hand"
    if kinds <= {"list", "tuple"}:
        return list_kind, ""
    if kinds == {"dict"}:
        return dict_kind, ""
    return "", "they are held in a set or in containers of several kinds; restructure them by hand"


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
                    fix="parameter",
                )
            )
    return out


def check_tensor_attribute(ctx: Any) -> list[Finding]:
    out = []
    for (module, attribute), ref in _plain_tensor_refs(ctx):
        path = _dotted(module, attribute)
        fix, no_fix = "buffer", ""
        owner = torch_argument(ctx, module, attribute) if ref.registered_as is None else None
        if owner is not None:
            message = (
                f"`{path}` is a tensor: nn.{owner} was built with a tensor for its `{attribute}` argument, "
                f"where a number belongs; .to() does not move it and state_dict() does not save it: "
                f"pass int(...) (or .item()) where the nn.{owner} is created"
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
            fix, no_fix = "", "the code that reads the alias must read the buffer instead, not the assignment"
        else:
            continue
        out.append(_finding(PI002, module, attribute, [ref.name], message, fix, no_fix))
    return out


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
                f"{_plural(len(loose), 'tensor')} held in {_container_text(loose)} ({_listing(r.name for r in loose)}) "
                f"{'is' if len(loose) == 1 else 'are'} not registered: not in parameters(), not moved by .to(), "
                f"not saved by state_dict(); {fix}"
            )
        if stale:
            parts.append(
                f"it keeps references to {_plural(len(stale), 'registered buffer')} "
                f"({_listing(r.registered_as for r in stale)}): .to() replaces buffers, so these references go "
                "stale; look the buffers up by name (getattr) when needed"
            )
        names = [r.name for r in loose] + [r.registered_as for r in stale]
        if stale:
            fix, no_fix = "", "the code must look the registered buffers up by name where it uses them"
        elif not all(r.requires_grad or r.is_parameter for r in loose):
            # nn.ParameterList would turn them into trainable Parameters
            fix, no_fix = (
                "",
                "plain tensors become buffers, each under its own name, and the code that reads them changes",
            )
        else:
            fix, no_fix = _container_fix(loose, "parameter-list", "parameter-dict")
        out.append(_finding(PI003, module, attribute, names, f"`{path}`: " + "; ".join(parts), fix, no_fix))
    return out


def _hidden_tensors(inv: Any, module_paths: list[str]) -> int:
    """Unregistered tensors that live inside the given (unregistered) modules."""
    prefixes = tuple(p + sep for p in module_paths for sep in (".", "["))
    return sum(
        1
        for r in inv.tensors
        if r.kind == "unregistered" and (r.module in module_paths or r.module.startswith(prefixes))
    )


def check_modules_in_container(ctx: Any) -> list[Finding]:
    out = []
    for (module, attribute), refs in _grouped_references(ctx, "module"):
        loose = [r for r in refs if r.registered_as is None]
        if not loose:
            continue
        names = list(_unique(r.name for r in loose))
        hidden = _hidden_tensors(ctx.inventory, names)
        fix = "nn.ModuleDict" if any(r.container == "dict" for r in loose) else "nn.ModuleList"
        if all(r.container is None for r in loose):
            fix = f"assign it normally (self.{attribute} = module) so that nn.Module registers it"
        else:
            fix = f"use {fix}"
        kind, no_fix = _container_fix(loose, "module-list", "module-dict")
        out.append(
            _finding(
                PI004,
                module,
                attribute,
                names,
                f"`{_dotted(module, attribute)}`: {_plural(len(names), 'nn.Module')} held in {_container_text(loose)} "
                f"({_listing(names)}) {'is' if len(names) == 1 else 'are'} not registered: "
                f"{_plural(hidden, 'tensor')} inside {'is' if hidden == 1 else 'are'} invisible to parameters(), "
                f".to() and state_dict(), and .train()/.eval() do not reach {'it' if len(names) == 1 else 'them'}; "
                f"{fix}",
                kind,
                no_fix,
            )
        )
    return out


# --- PI005-PI010: records ------------------------------------------------------------------


def _registered_records(inv: Any) -> list[Any]:
    return [r for r in inv.tensors if r.kind in (_PARAMETER, _BUFFER)]


def _per_buffer(ctx: Any, code: str, wanted: Callable[[Any], bool], message: str) -> list[Finding]:
    """One finding per buffer record that `wanted` picks; `message` is formatted with `name`."""
    return [
        _finding(code, r.module, r.attribute, (r.name, *r.aliases), message.format(name=r.name))
        for r in ctx.inventory.tensors
        if r.kind == _BUFFER and wanted(r)
    ]


def check_buffer_requires_grad(ctx: Any) -> list[Finding]:
    return _per_buffer(
        ctx,
        PI005,
        lambda r: r.requires_grad,
        "buffer `{name}` has requires_grad=True: buffers are not in parameters(), so the optimizer never "
        "updates it; register it as nn.Parameter if it should be trained, else .requires_grad_(False) or "
        ".detach() it",
    )


def check_mixed_devices(ctx: Any) -> list[Finding]:
    records = [r for r in _registered_records(ctx.inventory) if r.device != "unknown"]
    # When paraminspect built the model on meta itself, a tensor the factory created on
    # the CPU explicitly would share the CPU with everything else in a normal build.
    built_on_meta = getattr(ctx, "build_device", None) == "meta"

    def device(r: Any) -> str:
        return "meta" if built_on_meta and r.device == "cpu" else r.device

    split = _model_wide_split(records, device)
    if split is None:
        return []
    groups, majority, minority, spread = split
    return [
        _finding(
            PI006,
            "",
            "",
            [r.name for r in minority],
            f"parameters and buffers are on {groups} devices: {spread}; not on {majority}: "
            f"{_listing(r.name for r in minority)}; move the model with one .to(device) call, or check the code "
            "that created these tensors on another device",
        )
    ]


def _model_wide_split(records: list[Any], key: Callable[[Any], str]) -> tuple[int, str, list[Any], str] | None:
    """For PI006/PI007: (how many groups, the majority group, records outside it, "a (n tensors), ...")
    when the records fall in more than one group by `key`, else None."""
    counts = Counter(key(r) for r in records)
    if len(counts) < 2:
        return None
    majority = counts.most_common(1)[0][0]
    minority = [r for r in records if key(r) != majority]
    spread = ", ".join(f"{k} ({_plural(n, 'tensor')})" for k, n in counts.most_common())
    return len(counts), majority, minority, spread


def _is_floating(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


def check_mixed_dtypes(ctx: Any) -> list[Finding]:
    records = [r for r in _registered_records(ctx.inventory) if _is_floating(r.dtype)]
    split = _model_wide_split(records, lambda r: r.dtype)
    if split is None:
        return []
    groups, majority, minority, spread = split
    return [
        _finding(
            PI007,
            "",
            "",
            [r.name for r in minority],
            f"floating-point parameters and buffers use {groups} dtypes: {spread}; not {majority}: "
            f"{_listing(r.name for r in minority)}; fine when intended (e.g. float32 norms in a bf16 model)",
        )
    ]


def _tie_site(module_aliases: Mapping[str, str] | set[str], alias: str) -> tuple[str, str]:
    """Where an alias was made: the shortest shared-module alias that contains it
    (`self.b = self.a` ties every tensor of `a`), else the alias's own attribute."""
    parts = alias.split(".")
    for i in range(1, len(parts)):
        prefix = ".".join(parts[:i])
        if prefix in module_aliases:
            return ".".join(parts[: i - 1]), parts[i - 1]
    return ".".join(parts[:-1]), parts[-1]


def check_tied(ctx: Any) -> list[Finding]:
    inv = ctx.inventory
    shared = {a: m.path for m in inv.modules if m.registered for a in m.aliases}
    sites: dict[tuple[str, str], list[Any]] = {}
    for r in _registered_records(inv):
        if r.aliases:
            sites.setdefault(_tie_site(shared, r.aliases[0]), []).append(r)
    from paraminspect.checks.engine import locate

    out = []
    for (module, attribute), records in sites.items():
        site = _dotted(module, attribute)
        names = [n for r in records for n in (r.name, *r.aliases)]
        pairs = "; ".join(" = ".join((r.name, *r.aliases)) for r in records[:_SHOWN])
        more = f" and {len(records) - _SHOWN} more" if len(records) > _SHOWN else ""
        if site in shared:
            what = f"module `{site}` is `{shared[site]}` registered again (shared), so its tensors have several names"
        else:
            what = f"`{site}` shares its tensor with another name"
        finding = _finding(
            PI008,
            module,
            attribute,
            names,
            f"{what}: {pairs}{more}; each tied tensor is one tensor, counted once and saved once in state_dict()",
        )
        # The tie is made in a parent (`self.lm_head.weight = self.embed.weight`), while the
        # owner's own class (nn.Linear) assigns the original attribute: look there first.
        location = locate(inv, module, attribute, parents_first=True)
        if location is not None:
            finding = replace(finding, file=location.file, line=location.line)
        out.append(finding)
    return out


def check_frozen(ctx: Any) -> list[Finding]:
    params = [r for r in ctx.inventory.tensors if r.kind == _PARAMETER]
    frozen = [r for r in params if not r.requires_grad]
    if not frozen:
        return []

    def top(r: Any) -> str:
        return r.module.split(".", 1)[0]

    # One finding for the whole model when everything is frozen, else one per top-level
    # child (and one for parameters of the root itself): a few lines, never hundreds.
    groups: dict[str, list[Any]] = {}
    if len(frozen) == len(params):
        groups[""] = frozen
    else:
        for r in frozen:
            groups.setdefault(top(r), []).append(r)
    totals = Counter(top(r) for r in params)
    out = []
    for module, records in groups.items():
        total = len(params) if len(frozen) == len(params) else totals[module]
        numel = sum(r.numel or 0 for r in records)
        where = f"in `{module}`" if module else ("in the model" if total == len(params) else "of the root module")
        out.append(
            _finding(
                PI009,
                module,
                "",
                [r.name for r in records],
                f"{len(records)} of {_plural(total, 'parameter')} {where} {'is' if len(records) == 1 else 'are'} "
                f"frozen (requires_grad=False, "
                f"{numel:,} elements): the optimizer will not update them; fine for fine-tuning",
            )
        )
    return out


def check_non_persistent(ctx: Any) -> list[Finding]:
    return _per_buffer(
        ctx,
        PI010,
        lambda r: r.persistent is False,
        "buffer `{name}` is non-persistent: moved by .to() but not saved by state_dict(); "
        "fine for data derived at construction",
    )


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

Example (bad):

    class Scale(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.gamma = torch.ones(dim, requires_grad=True)

Fix: make it a Parameter.

            self.gamma = nn.Parameter(torch.ones(dim))
""",
    check_trainable_tensor_attribute,
    fix=PI001_FIX,
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

Example (bad):

    class Normalize(nn.Module):
        def __init__(self, mean):
            super().__init__()
            self.mean = torch.tensor(mean)

Fix: register it as a buffer. Use persistent=False for data derived at construction time
(it then moves with .to() but is not saved).

            self.register_buffer("mean", torch.tensor(mean))

If the tensor really must stay where it is, allow it by name ([tool.paraminspect] allow) or
put `# noqa: PI002` on the assignment.
""",
    check_tensor_attribute,
    fix=PI002_FIX,
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

Example (bad):

    class Anchors(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.cell_anchors = [torch.tensor(s) for s in sizes]
            self.scales = [nn.Parameter(torch.ones(1)) for _ in sizes]

Fix: nn.ParameterList / nn.ParameterDict for trainable tensors; register_buffer for the
others (look them up by name, or keep the list of names).

            self.scales = nn.ParameterList(nn.Parameter(torch.ones(1)) for _ in sizes)
            for i, s in enumerate(sizes):
                self.register_buffer(f"cell_anchor_{i}", torch.tensor(s))
""",
    check_tensors_in_container,
    fix=PI003_FIX,
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

Example (bad):

    class Net(nn.Module):
        def __init__(self, dim, depth):
            super().__init__()
            self.blocks = [nn.Linear(dim, dim) for _ in range(depth)]

Fix: nn.ModuleList (nn.ModuleDict for a dict).

            self.blocks = nn.ModuleList(nn.Linear(dim, dim) for _ in range(depth))
""",
    check_modules_in_container,
    fix=PI004_FIX,
)

PI005 = Rule(
    "PI005",
    "buffer-requires-grad",
    WARNING,
    "Buffer with requires_grad=True: the optimizer never sees it.",
    """\
Buffers are state, not parameters: they are not in model.parameters(), so an optimizer built
from parameters() never updates them, even though they require grad and take part in
autograd (and cost memory for gradients).

Example (bad):

    self.register_buffer("temperature", torch.ones(1, requires_grad=True))

Fix: if it should be trained, make it a Parameter; if not, do not require grad.

    self.temperature = nn.Parameter(torch.ones(1))
    # or
    self.register_buffer("temperature", torch.ones(1))
""",
    check_buffer_requires_grad,
)

PI006 = Rule(
    "PI006",
    "mixed-devices",
    WARNING,
    "Parameters and buffers on more than one device.",
    """\
All tensors of a model normally live on one device; a forward pass over tensors on two
devices fails ("Expected all tensors to be on the same device") or copies data at every
call. The meta device counts only when mixed with real devices (a model fully on meta is
fine; paraminspect builds on meta by default, and then tensors a factory created on the CPU
are not counted as a second device).

Example (bad):

    model = Net()
    model.head.to("cuda")       # the rest stays on the CPU

Fix: move the whole model with one call, model.to(device), and create tensors in
__init__/forward on the device of an existing parameter or buffer.
""",
    check_mixed_devices,
)

PI007 = Rule(
    "PI007",
    "mixed-float-dtypes",
    INFO,
    "Floating-point parameters and buffers with more than one dtype.",
    """\
Mixed floating dtypes are often intended (float32 norms or routers in a bfloat16 model),
but a stray float64 buffer or a half-converted model makes matmuls fail with dtype
mismatches or silently upcast.

Example:

    model = Net().half()
    model.register_buffer("scale", torch.ones(1, dtype=torch.float64))

Fix (when not intended): convert once with model.to(dtype), and create tensors with the
dtype of an existing parameter.
""",
    check_mixed_dtypes,
)

PI008 = Rule(
    "PI008",
    "tied-parameters",
    INFO,
    "Tied parameters: one tensor under several names.",
    """\
Weight tying (an LM head that shares the input embedding) is legitimate: one tensor under
two names, counted once in parameters() and saved once by state_dict(). It is reported so
that you know: code that counts parameters by name or loads checkpoints with strict key
matching must expect it, and an accidental tie (assigning one module's weight to another)
trains both layers as one.

Example:

    self.lm_head.weight = self.embed.weight

Fix (when not intended): give each module its own nn.Parameter, e.g.
nn.Parameter(self.embed.weight.detach().clone()).
""",
    check_tied,
)

PI009 = Rule(
    "PI009",
    "frozen-parameters",
    INFO,
    "Frozen parameters (requires_grad=False).",
    """\
Parameters with requires_grad=False are not trained. That is how fine-tuning freezes a
backbone, so this is informational: it tells you which parts of the model an optimizer will
leave alone, which is easy to get wrong (freezing more than intended, or forgetting to
unfreeze). Reported once per top-level submodule, or once for the whole model when
everything is frozen.

Example:

    for p in model.backbone.parameters():
        p.requires_grad_(False)

Fix (when not intended): p.requires_grad_(True) on the parameters that should train.
""",
    check_frozen,
)

PI010 = Rule(
    "PI010",
    "non-persistent-buffer",
    INFO,
    "Non-persistent buffer: moved by .to(), not saved in state_dict.",
    """\
A buffer registered with persistent=False moves with the model but is not saved by
state_dict(). That is right for data derived at construction time (position indices, masks,
lookup tables), and wrong for state that must survive a checkpoint (running statistics,
learned-but-not-trained values): after loading, such a buffer has its initial value.

Example:

    self.register_buffer("position_ids", torch.arange(max_len), persistent=False)

Fix (when it must be saved): register_buffer(name, tensor) with the default persistent=True.
""",
    check_non_persistent,
)

RULES: list[Rule] = [PI001, PI002, PI003, PI004, PI005, PI006, PI007, PI008, PI009, PI010]
