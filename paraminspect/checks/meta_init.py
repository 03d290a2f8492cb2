"""Meta-device initialisation rules PI012-PI013: the big-model path (build on the meta device,
`to_empty()`, `load_state_dict()`), which FSDP2/torchtitan, accelerate's init_empty_weights and
transformers' from_pretrained take, and what breaks it: a model that cannot be built on meta
(PI012), and a non-persistent buffer that no checkpoint carries and no init hook recomputes
(PI013).

Importable without torch (`paraminspect rules` / `explain`): PI012 reads the plain record the
loader left (loaders.build.MetaFailure); PI013's probe (checks/empty_init.py) imports torch
when it runs.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from paraminspect.checks import meta_init_examples as examples
from paraminspect.checks.rule import WARNING, Finding, Rule
from paraminspect.checks.unregistered import _BUFFER, _finding, _listing
from paraminspect.wording import plural

BIG_MODEL_PATHS = (
    "accelerate's init_empty_weights, FSDP2/torchtitan meta-device init and from_pretrained(low_cpu_mem_usage=True)"
)

# --- PI012 ---------------------------------------------------------------------------------

# What the source line does, for a failure that says a tensor's value was read (torch answers
# `.item()`, `int(t)`, `float(t)`, `bool(t)` and an `if` on a tensor with the same message).
_VALUE_READS = (
    (re.compile(r"\.item\(\)"), "`.item()`"),
    (re.compile(r"(?<![\w.])int\("), "`int(t)`"),
    (re.compile(r"(?<![\w.])float\("), "`float(t)`"),
    (re.compile(r"(?<![\w.])bool\("), "`bool(t)`"),
    (re.compile(r"(?<![\w.])range\("), "`range(t)`"),
    (re.compile(r"^(if|elif|while|assert)\b|\bif\b.*\belse\b"), "a condition on a tensor (`if t ...:`)"),
)


def data_dependent_call(reason: str, code: str) -> str | None:
    """What in `code` read tensor data on meta, from torch's message (`reason`): `.item()`,
    `.tolist()`, `.numpy()`, `int(t)`, ...; None when the failure is not a data access."""
    text = reason.lower()
    if "numpy" in text:
        return "`.numpy()`"
    if "copy out of meta tensor" in text:
        if ".tolist(" in code:
            return "`.tolist()`"
        return "`.cpu()`" if ".cpu(" in code else "a copy of a tensor's data"
    if "item() cannot be called on meta" in text:
        for pattern, name in _VALUE_READS:
            if pattern.search(code):
                return name
        return "reading a tensor's value"
    if "data-dependent" in text or "data dependent" in text or "unimplemented by default" in text:
        return "an operation whose output shape depends on the data (nonzero, unique, masked_select, boolean indexing)"
    return None


def check_meta_build(ctx: Any) -> list[Finding]:
    failure = getattr(ctx, "meta_failure", None)
    if failure is None:
        return []
    # the finding's file:line shows the code; without one, the message quotes it
    where = f" at `{failure.code}`" if failure.code and failure.file is None else ""
    call = data_dependent_call(failure.reason, failure.code)
    if call is not None:
        what = f"{call}{where} reads tensor data during construction ({failure.reason})"
        fix = "compute it with Python numbers instead of tensors, or guard the read with `if not t.is_meta:`"
    else:
        what = f"{failure.reason}{where}"
        fix = "make construction work without tensor data"
    message = (
        f"the model cannot be built on the meta device: {what}, which breaks {BIG_MODEL_PATHS}; {fix} "
        "(checked on CPU instead)"
    )
    finding = _finding(PI012, "", "", (), message)
    if failure.file is None:
        return [finding]
    return [replace(finding, file=failure.file, line=failure.line)]


# --- PI013 ---------------------------------------------------------------------------------


def check_uninitialised_buffers(ctx: Any) -> list[Finding]:
    """Non-persistent buffers that stay uninitialised after meta init + to_empty() + the
    model's own init hooks (checks/empty_init.py), one finding per (owner class, attribute)."""
    records = [r for r in ctx.inventory.tensors if r.kind == _BUFFER and r.persistent is False]
    if not records or ctx.model is None:
        return []
    from paraminspect.checks.empty_init import probe

    result = probe(ctx.model, [(r.module, r.attribute) for r in records])
    notes = getattr(ctx, "notes", None)
    if notes is not None and result.note:
        notes.append(result.note)
    left = set(result.uninitialised)
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in records:
        if (r.module, r.attribute) in left:
            groups.setdefault((r.module_type, r.attribute), []).append(r)
    out = []
    for (owner, attribute), group in groups.items():
        first = group[0]
        elements = result.uninitialised[(first.module, attribute)]
        part = "" if elements == first.numel else f" ({elements:,} of its {first.numel:,} elements)"
        more = ""
        if len(group) > 1:
            others = plural(len(group) - 1, f"other {owner} module")
            more = f" (and in {others}: {_listing(r.name for r in group[1:])})"
        message = (
            f"non-persistent buffer `{first.name}`{part} is computed only in __init__{more}: after meta-device "
            "init, to_empty() and load_state_dict() (FSDP2/torchtitan, accelerate, from_pretrained) it holds "
            f"uninitialised memory, since no checkpoint carries it and no init hook ({result.hooks_text}) "
            "recomputes it; compute it in the module's reset_parameters() and call that from __init__, or "
            "register it persistent"
        )
        out.append(_finding(PI013, first.module, attribute, [n for r in group for n in (r.name, *r.aliases)], message))
    return out


# --- the catalog ---------------------------------------------------------------------------

PI012 = Rule(
    "PI012",
    "not-buildable-on-meta",
    WARNING,
    "The model cannot be built on the meta device (construction reads tensor data).",
    """\
Big models are built on the meta device, where tensors have shapes but no data, and given
memory only when their weights arrive: accelerate's init_empty_weights, FSDP2 and torchtitan
(build on meta, shard, to_empty(), load), transformers' from_pretrained with
low_cpu_mem_usage. Construction code that reads a tensor's value (.item(), .tolist(),
.numpy(), int(t), float(t), bool(t), an if or while on a tensor, nonzero()) fails there,
so the model can only be built with all its weights allocated on one device.

paraminspect builds on meta first; when that fails it builds on CPU (the inventory is still
shown) and reports the line of the model's code that read the data: the innermost frame
outside torch and the standard library (a library model's own file, timm's or
torchvision's, counts as the model's code).

Fix: compute sizes and constants with Python numbers (math, lists, the config's values),
and create tensors from them; or guard the data access with `if not t.is_meta:`.
""",
    check_meta_build,
    examples=examples.PI012,
)

PI013 = Rule(
    "PI013",
    "uninitialised-after-meta-init",
    WARNING,
    "Non-persistent buffer that no init hook recomputes: uninitialised after meta init.",
    """\
The big-model path builds the model on the meta device, allocates it with to_empty() (memory
that is not initialised) and then loads a checkpoint: FSDP2 and torchtitan, accelerate,
transformers' from_pretrained. A non-persistent buffer (register_buffer(...,
persistent=False): a rotary inv_freq, a relative position index, a mask) is in no
checkpoint, so nothing loads it; unless an init hook computes it again it keeps whatever the
memory held, and the model silently gives wrong results.

paraminspect checks it exactly: on a copy of the model it allocates the tensors with
to_empty() on the CPU, fills them with NaN (integer and bool buffers with two different
values, in two passes), runs the initialisation hooks the ecosystem calls (reset_parameters()
and timm's init_non_persistent_buffers() on every module that has one; then transformers'
initialize_weights() for a PreTrainedModel, whose parameters and persistent buffers count as
loaded, or the root's init_weights() as timm and torchtitan have it), and reports the
non-persistent buffers that still hold the fill. A model over 16 MiB keeps its parameters on
meta while the hooks run and only its non-persistent buffers are allocated (up to 1 GiB); a
hook that fails, or a model that cannot be copied, gets a note instead of a finding.

Fix: compute the buffer in the module's reset_parameters() (and call it from __init__), so
that every init path recomputes it; or register it persistent, so that checkpoints carry it.
""",
    check_uninitialised_buffers,
    examples=examples.PI013,
)

RULES: list[Rule] = [PI012, PI013]
