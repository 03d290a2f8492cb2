"""One side of a diff -> a KeySet (plain, picklable data), and torch's strict verdict.

`gather` is the one function that touches the model: it builds (or lists) the side, reads its
state_dict names, shapes and dtypes and the registrations behind them, and, given the other
side's key set, asks torch itself whether that state_dict loads (`load_state_dict(strict=True,
assign=True)` with meta tensors: no tensor data is allocated or read). It may run in a child
process; its result crosses back by pickle.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from functools import cache
from typing import Any

from paraminspect.diffs.keyset import BUFFER, CHECKPOINT, MODEL, PARAMETER, STORED, Key, KeySet, Verdict
from paraminspect.tensors.records import dtype_name


def _relevant(note: str) -> bool:
    """Loader notes that matter to `show` but not here: the diff explains prefixes itself,
    and every checkpoint's keys are 'stored'."""
    return not note.startswith("every name starts with") and "(kind 'stored')" not in note


def side_kwargs(spec: str, kwargs: dict[str, Any] | None) -> dict[str, Any] | None:
    """Factory arguments apply to model sides; a checkpoint file takes none."""
    from paraminspect.forms import parse_spec

    return None if parse_spec(spec).form.checkpoint else kwargs


def gather(
    spec: str,
    kwargs: dict[str, Any] | None = None,
    device: str | None = None,
    *,
    trust_pickle: bool = False,
    trust_remote_code: bool = False,
    against: KeySet | None = None,
) -> KeySet:
    """The key set of a MODEL spec; with `against` (the other side), a model also carries
    torch's verdict on loading that side's state_dict. Raises LoadError/UsageError."""
    from paraminspect.loaders.dispatch import load

    loaded = load(spec, kwargs, device, trust_pickle=trust_pickle, trust_remote_code=trust_remote_code)
    if loaded.module is None:
        return keyset_from_loaded(loaded)
    notes = tuple(n for n in loaded.notes if _relevant(n))
    keyset = keyset_from_module(loaded.module, loaded.spec, loaded.resolved, notes)
    if against is not None:
        keyset = _verdict_or_note(keyset, loaded.module, against)
    return keyset


def keyset_from_loaded(loaded: Any) -> KeySet:
    """A listed checkpoint (a LoadedModel with an inventory and no module: safetensors, torch
    files, GGUF, DCP): its stored names, its version metadata, and what its format records that
    the explainers use (a GGUF file's architecture and block count). No torch needed."""
    from dataclasses import replace

    refused = getattr(loaded, "refused", None)
    notes = tuple(n for n in loaded.notes if _relevant(n) and n != refused)  # the summary says it
    keyset = _with_versions(
        keyset_from_records(loaded.spec, loaded.resolved, loaded.inventory.tensors, notes), loaded.state_dict_versions
    )
    if refused is not None:
        keyset = replace(keyset, refused=refused)
    info = getattr(loaded, "checkpoint_info", None)
    if info is None:
        return keyset
    return replace(keyset, format_facts=info.facts())


def gather_weights(spec: str, *, trust_pickle: bool = False) -> KeySet:
    """`diff FOLDER --weights`: the key set of a Hugging Face folder's own weight files."""
    from paraminspect.loaders.hf import load_hf_weights

    loaded = load_hf_weights(spec, trust_pickle=trust_pickle)
    notes = tuple(n for n in loaded.notes if _relevant(n))
    keyset = keyset_from_records(f"{spec} --weights", loaded.resolved, loaded.inventory.tensors, notes)
    return _with_versions(keyset, loaded.state_dict_versions)


# torch's load_state_dict hands each child the keys under its prefix by scanning every key
# its parent got: children x keys string tests per module. Past this many (a flat
# Sequential of 25,000 layers is 1.25 billion, minutes) the verdict comes from the keys.
MAX_LOAD_COST = 20_000_000


def load_cost(module: Any, other: KeySet) -> int:
    """How many key tests torch's load_state_dict makes loading `other` into `module`."""
    under: dict[str, int] = {"": len(other.keys)}
    for name in other.keys:
        dot = name.find(".")
        while dot > 0:
            head = name[:dot]
            under[head] = under.get(head, 0) + 1
            dot = name.find(".", dot + 1)
    cost = 0
    for path, sub in module.named_modules(remove_duplicate=False):
        children = len(sub._modules)
        if children:
            cost += children * under.get(path, 0)
    return cost


def _verdict_or_note(keyset: KeySet, module: Any, other: KeySet) -> KeySet:
    from dataclasses import replace

    cost = load_cost(module, other)
    if cost > MAX_LOAD_COST:
        note = (
            f"torch's load_state_dict would make {cost:,} key comparisons on this module tree "
            "(children x keys per module): the verdict comes from the keys"
        )
        return replace(keyset, notes=(*keyset.notes, note))
    return _with_verdict(keyset, strict_verdict(module, other))


def _with_versions(keyset: KeySet, versions: dict[str, int] | None) -> KeySet:
    from dataclasses import replace

    return keyset if versions is None else replace(keyset, versions=versions)


def _with_verdict(keyset: KeySet, verdict: Verdict) -> KeySet:
    from dataclasses import replace

    return replace(keyset, verdict=verdict)


def keyset_from_records(spec: str, resolved: str, records: Any, notes: tuple[str, ...] = ()) -> KeySet:
    """A checkpoint listed from its headers: every stored name (tied tensors saved under
    several names keep each name, grouped in `tied`)."""
    keys: dict[str, Key] = {}
    tied = []
    for r in records:
        key = Key(tuple(r.shape) if r.shape is not None else None, r.dtype, STORED)
        for name in (r.name, *r.aliases):
            keys[name] = key
        if r.aliases:
            tied.append((r.name, *r.aliases))
    return KeySet(spec, resolved, CHECKPOINT, "checkpoint", keys, tied=tuple(tied), notes=notes)


_dtype_name = cache(dtype_name)


def _key(t: Any, kind: str) -> Key:
    if _is_uninitialized(t):
        return Key(None, _dtype_name(t.dtype), kind)
    return Key(tuple(t.shape), _dtype_name(t.dtype), kind)


def _is_uninitialized(t: Any) -> bool:
    from torch.nn.parameter import UninitializedTensorMixin

    return isinstance(t, UninitializedTensorMixin)


def _hook_norms(module: Any) -> dict[str, str]:
    """tensor name -> norm, for the old hook-based spectral_norm / weight_norm."""
    out = {}
    for hook in getattr(module, "_forward_pre_hooks", {}).values():
        kind = type(hook).__name__
        name = getattr(hook, "name", None)
        if kind in ("SpectralNorm", "WeightNorm") and isinstance(name, str):
            out[name] = "spectral_norm" if kind == "SpectralNorm" else "weight_norm"
    return out


def keyset_from_module(module: Any, spec: str, resolved: str, notes: tuple[str, ...] = ()) -> KeySet:
    """A model side: its state_dict as torch saves it (so tied names appear twice), and for
    every module its non-persistent buffers, plain tensor attributes, BatchNorm tracking and
    parametrizations."""
    import torch
    from torch import nn
    from torch.nn.utils import parametrize

    from paraminspect.diffs.hf_load import rules_of

    state = module.state_dict(keep_vars=True)
    keys: dict[str, Key] = {}
    by_tensor: dict[int, list[str]] = {}
    for name, t in state.items():
        if not isinstance(t, torch.Tensor):
            continue  # extra state (get_extra_state) is not a tensor
        keys[name] = _key(t, PARAMETER if isinstance(t, nn.Parameter) else BUFFER)
        by_tensor.setdefault(id(t), []).append(name)
    metadata = getattr(state, "_metadata", None) or {}
    versions = {
        prefix: info["version"] for prefix, info in metadata.items() if isinstance(info, dict) and "version" in info
    }

    non_persistent: dict[str, Key] = {}
    unregistered: dict[str, Key] = {}
    batchnorm: dict[str, bool] = {}
    parametrized: dict[str, tuple[str, ...]] = {}
    legacy: dict[str, str] = {}
    module_types: dict[str, str] = {}
    for path, sub in module.named_modules(remove_duplicate=False):
        prefix = f"{path}." if path else ""
        module_types[path] = type(sub).__name__
        for b in getattr(sub, "_non_persistent_buffers_set", ()):
            t = sub._buffers.get(b)
            if isinstance(t, torch.Tensor):
                non_persistent[prefix + b] = _key(t, BUFFER)
        norms = _hook_norms(sub)
        for attr, norm in norms.items():
            legacy[prefix + attr] = norm
        for attr, value in vars(sub).items():
            # the old norms' hooks recompute `weight` as a plain attribute: not a user's tensor
            if isinstance(value, torch.Tensor) and attr not in norms:
                unregistered[prefix + attr] = _key(value, "unregistered")
        tracking = getattr(sub, "track_running_stats", None)
        if isinstance(tracking, bool) and hasattr(sub, "momentum"):
            batchnorm[path] = tracking
        if parametrize.is_parametrized(sub):
            for attr, plist in sub.parametrizations.items():
                parametrized[prefix + attr] = tuple(type(p).__name__ for p in plist)
    return KeySet(
        spec,
        resolved,
        MODEL,
        type(module).__name__,
        keys,
        non_persistent=non_persistent,
        unregistered=unregistered,
        tied=tuple(tuple(names) for names in by_tensor.values() if len(names) > 1),
        batchnorm=batchnorm,
        parametrized=parametrized,
        legacy_norms=legacy,
        module_types=module_types,
        versions=versions,
        notes=notes,
        hf_rules=rules_of(module),
    )


def _cast_to(target: Any, key: Key) -> Any:
    """The dtype a probe tensor takes instead of its own: load_state_dict (as users call it)
    copies a bool or integer tensor into a trainable floating parameter, casting it; the
    probe's assign=True would instead refuse it (such a tensor cannot require grad)."""
    import torch

    dtype = getattr(torch, key.dtype, None)
    if not isinstance(target, torch.nn.Parameter) or not target.requires_grad or not isinstance(dtype, torch.dtype):
        return None
    return target.dtype if not (dtype.is_floating_point or dtype.is_complex) else None


def _meta_tensor(key: Key, cast: Any = None) -> Any:
    import torch

    dtype = cast if cast is not None else getattr(torch, key.dtype, None)
    if not isinstance(dtype, torch.dtype):
        dtype = torch.float32  # a dtype this torch does not know: shapes are what load_state_dict checks
    try:
        return torch.empty(key.shape or (), dtype=dtype, device="meta")
    except (RuntimeError, TypeError):
        return torch.empty(key.shape or (), device="meta")


def _quoted_after(text: str, label: str) -> tuple[str, ...]:
    import re

    for line in text.splitlines():
        if label in line:
            return tuple(re.findall(r'"([^"]*)"', line.split(label, 1)[1]))
    return ()


def strict_verdict(module: Any, other: KeySet) -> Verdict:
    """torch's own answer: `module.load_state_dict(other, strict=True, assign=True)` with meta
    tensors of the other side's shapes and dtypes (and its version metadata, which decides
    e.g. whether BatchNorm fills a missing num_batches_tracked). The module is changed by
    the call: use a module built for this."""
    targets = module.state_dict(keep_vars=True)
    probe: OrderedDict[str, Any] = OrderedDict(
        (name, _meta_tensor(key, _cast_to(targets.get(name), key))) for name, key in other.keys.items()
    )
    if other.versions is not None:
        probe._metadata = OrderedDict((p, {"version": v}) for p, v in other.versions.items())  # type: ignore[attr-defined]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module.load_state_dict(probe, strict=True, assign=True)
    except RuntimeError as exc:
        text = str(exc)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        mismatch = tuple(
            line.removeprefix("size mismatch for ").split(":", 1)[0]
            for line in lines
            if line.startswith("size mismatch for ")
        )
        first = next((line for line in lines[1:] if line), lines[0] if lines else "load_state_dict refused")
        return Verdict(
            False,
            error=first[:300],
            missing=_quoted_after(text, "Missing key(s) in state_dict:"),
            unexpected=_quoted_after(text, "Unexpected key(s) in state_dict:"),
            size_mismatch=mismatch,
        )
    except Exception as exc:  # a module's own load hook failed on meta tensors
        message = (str(exc).strip().splitlines() or [""])[0]
        return Verdict(False, error=f"load_state_dict raised {type(exc).__name__}: {message}"[:300])
    return Verdict(True)


def _meta_copy(module: Any) -> Any:
    """A copy of `module` whose parameters and buffers are meta tensors (no data copied; ties
    kept), for a strict load that must not change the caller's module. None if it cannot be copied."""
    import copy

    import torch
    from torch import nn

    memo: dict[int, Any] = {}
    for t in [*module.parameters(), *module.buffers()]:
        if id(t) in memo:
            continue
        meta = torch.empty_like(t, device="meta")
        memo[id(t)] = nn.Parameter(meta, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else meta
    try:
        return copy.deepcopy(module, memo)
    except Exception:
        return None


def keyset_from_state_dict(state: Any, name: str) -> KeySet:
    """A state_dict (a mapping of names to tensors) as a checkpoint side, with its version metadata."""
    import torch

    keys: dict[str, Key] = {}
    by_tensor: dict[int, list[str]] = {}
    for key_name, t in state.items():
        if isinstance(t, torch.Tensor):
            keys[str(key_name)] = _key(t, STORED)
            by_tensor.setdefault(id(t), []).append(str(key_name))
    metadata = getattr(state, "_metadata", None)
    versions = None
    if isinstance(metadata, dict):
        versions = {p: i["version"] for p, i in metadata.items() if isinstance(i, dict) and "version" in i}
    tied = tuple(tuple(n) for n in by_tensor.values() if len(n) > 1)
    return KeySet(name, name, CHECKPOINT, "state_dict", keys, tied=tied, versions=versions)


def keyset_from_object(obj: Any, name: str, against: KeySet | None = None) -> KeySet:
    """An in-process nn.Module or state_dict mapping (the Python API)."""
    from collections.abc import Mapping

    from torch import nn

    from paraminspect.errors import UsageError

    if isinstance(obj, nn.Module):
        keyset = keyset_from_module(obj, name, name)
        if against is None:
            return keyset
        copy = _meta_copy(obj)
        if copy is None:
            from dataclasses import replace

            return replace(keyset, notes=(*keyset.notes, "the module cannot be copied: verdict from the keys"))
        return _verdict_or_note(keyset, copy, against)
    if isinstance(obj, Mapping):
        return keyset_from_state_dict(obj, name)
    raise UsageError(f"cannot diff {type(obj).__name__}: give an nn.Module, a state_dict or a MODEL spec")
