"""Two key sets -> a Diff: matched / missing / unexpected / mismatched keys, and why (pure)."""

from __future__ import annotations

from paraminspect.diffs.explain import explain_keys
from paraminspect.diffs.hf_load import from_pretrained_view
from paraminspect.diffs.keyset import KeySet
from paraminspect.diffs.result import PREFIX, Diff, Entry, Explanation
from paraminspect.diffs.shape_changes import Pair, explain_dtypes, explain_shapes
from paraminspect.wording import plural


def _shapes_differ(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> bool:
    # torch skips the shape check for lazy (uninitialized) parameters
    return a is not None and b is not None and a != b


def _summary(diff_loadable: bool, error: str | None, counts: dict[str, int], explanations: list[Explanation]) -> str:
    if diff_loadable:
        if not (counts["missing"] or counts["unexpected"] or counts["mismatched"]):
            cast = sum(len(e.names) for e in explanations if e.kind == "dtype")
            note = f" ({plural(cast, 'tensor')} cast to the target's dtype)" if cast else ""
            return f"loads: yes - all {plural(counts['matched'], 'key')} match{note}"
        filled = next((e for e in explanations if not e.blocks and e.kind != "dtype"), None)
        return "loads: yes" + (f" - {filled.message}" if filled else "")
    blocking = [e for e in explanations if e.blocks]
    if blocking:
        top = max(blocking, key=lambda e: (e.kind == PREFIX, len(e.names)))
        return f"loads: no - {top.message}"
    parts = [
        plural(counts[k], noun)
        for k, noun in (("missing", "missing key"), ("unexpected", "unexpected key"), ("mismatched", "shape mismatch"))
        if counts[k]
    ]
    if parts:
        return "loads: no - " + ", ".join(parts)
    return f"loads: no - {error}" if error else "loads: no"


def compare(left: KeySet, right: KeySet) -> Diff:
    """What `left.load_state_dict(right)` would find, and the explanations for every difference."""
    matched: list[Entry] = []
    mismatched: list[Entry] = []
    missing: list[Entry] = []
    for name, lkey in left.keys.items():
        rkey = right.keys.get(name)
        if rkey is None:
            missing.append(Entry(name, lkey, None))
        elif _shapes_differ(lkey.shape, rkey.shape):
            mismatched.append(Entry(name, lkey, rkey))
        else:
            matched.append(Entry(name, lkey, rkey))
    unexpected = [Entry(name, None, rkey) for name, rkey in right.keys.items() if name not in left.keys]

    pools = explain_keys(
        left, right, {e.name: e.left for e in missing if e.left}, {e.name: e.right for e in unexpected if e.right}
    )
    pairs: list[Pair] = [(e.name, e.name, e.left, e.right) for e in (*matched, *mismatched) if e.left and e.right]
    pairs += [(new, old, left.keys[new], right.keys[old]) for old, new in pools.mapping.items()]
    shape_pairs = [p for p in pairs if _shapes_differ(p[2].shape, p[3].shape)]
    explanations = [
        *pools.found,
        *explain_shapes(left, shape_pairs, pools.other, pools.target),
        # quantized GGUF tensors are no dtype load_state_dict casts from (the gguf explanation says so)
        *explain_dtypes([p for p in pairs if p[1] not in pools.no_cast], pools.other, pools.target),
    ]
    shape_explained = {n for e in explanations if e.kind == "shape" for n in e.names}

    verdict = left.verdict
    if verdict is not None:
        loadable, verdict_by, error = verdict.loadable, "load_state_dict", verdict.error
    else:
        loadable, verdict_by, error = not (missing or unexpected or mismatched), "keys", None
    refused = right.refused or left.refused  # the file itself does not load, whatever its keys say
    if refused is not None:
        loadable, verdict_by, error = False, "file", refused
    counts = {
        "matched": len(matched),
        "missing": len(missing),
        "unexpected": len(unexpected),
        "mismatched": len(mismatched),
    }
    summary = f"loads: no - {refused}" if refused is not None else _summary(loadable, error, counts, explanations)
    return Diff(
        left=left,
        right=right,
        loadable=loadable,
        verdict_by=verdict_by,
        error=error,
        matched=tuple(matched),
        missing=tuple(missing),
        unexpected=tuple(unexpected),
        mismatched=tuple(mismatched),
        explanations=tuple(explanations),
        unexplained_missing=tuple(pools.missing),
        unexplained_unexpected=tuple(pools.unexpected),
        unexplained_mismatched=tuple(e.name for e in mismatched if e.name not in shape_explained),
        mapping=dict(pools.mapping),
        summary=summary,
        from_pretrained=from_pretrained_view(left, right, left.hf_rules) if left.hf_rules is not None else None,
    )
