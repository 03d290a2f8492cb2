"""Registration rules PI005-PI010: facts about registered parameters and buffers (a buffer
that requires grad, devices, dtypes, ties, frozen parameters, non-persistent buffers).
PI001-PI004, about tensors and modules that are not registered, are in unregistered.py.

Importable without torch (`paraminspect rules` / `explain`): the check functions only read
the plain records of an Inventory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from paraminspect.checks import registration_examples as examples
from paraminspect.checks.rule import INFO, WARNING, Finding, Rule
from paraminspect.checks.unregistered import _BUFFER, _PARAMETER, _SHOWN, _dotted, _finding, _listing
from paraminspect.wording import plural

# --- the checks ----------------------------------------------------------------------------

# What PI008 predicts: safetensors refuses a state_dict whose names share memory.
SAFETENSORS_TIES = (
    'safetensors.torch.save_file(model.state_dict(), ...) refuses it ("Some tensors share memory"): save with '
    "safetensors.torch.save_model(model, path) (load with load_model) or model.save_pretrained(), which keep one name"
)


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
    spread = ", ".join(f"{k} ({plural(n, 'tensor')})" for k, n in counts.most_common())
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
            f"{what}: {pairs}{more}; each tied tensor is one tensor, counted once, under every name in "
            f"state_dict(). {SAFETENSORS_TIES}",
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
                f"{len(records)} of {plural(total, 'parameter')} {where} {'is' if len(records) == 1 else 'are'} "
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

PI005 = Rule(
    "PI005",
    "buffer-requires-grad",
    WARNING,
    "Buffer with requires_grad=True: the optimizer never sees it.",
    """\
Buffers are state, not parameters: they are not in model.parameters(), so an optimizer built
from parameters() never updates them, even though they require grad and take part in
autograd (and cost memory for gradients).

Fix: if it should be trained, make it an nn.Parameter; if not, register a tensor that does
not require grad (or .detach() it).
""",
    check_buffer_requires_grad,
    examples=examples.PI005,
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
are not counted as a second device). Moving one submodule by itself (model.head.to("cuda"))
leaves the rest behind.

Fix: move the whole model with one call, model.to(device), and create tensors in
__init__/forward on the device of an existing parameter or buffer.
""",
    check_mixed_devices,
    examples=examples.PI006,
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

Fix (when not intended): convert once with model.to(dtype), and create tensors with the
dtype of an existing parameter.
""",
    check_mixed_dtypes,
    examples=examples.PI007,
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

Saving: safetensors refuses tensors that share memory, so its torch
save_file(model.state_dict(), path) raises "Some tensors share memory". Its
save_model(model, path) saves each tied tensor once under one name (and load_model
restores the tie); transformers' save_pretrained does the same. torch.save keeps the tie as
it is.

Fix (when not intended): give each module its own nn.Parameter (a copy of the other's
weight is `weight.detach().clone()`).
""",
    check_tied,
    examples=examples.PI008,
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

Fix (when not intended): p.requires_grad_(True) on the parameters that should train.
""",
    check_frozen,
    examples=examples.PI009,
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

Fix (when it must be saved): register_buffer(name, tensor) with the default persistent=True.
""",
    check_non_persistent,
    examples=examples.PI010,
)

RULES: list[Rule] = [PI005, PI006, PI007, PI008, PI009, PI010]
