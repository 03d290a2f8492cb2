"""Why keys do not line up: pure functions from two key sets to explanations.

Each explainer takes the keys no earlier one accounted for (a Pools object), claims the ones
it explains, and may propose renames (right name -> left name). The order matters: a prefix
explains more than a rename of every top-level module would, and a rename has to be known
before a tied or a shape explanation can look at the renamed pairs.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from paraminspect.diffs.grouping import describe_names
from paraminspect.diffs.keyset import Key, KeySet
from paraminspect.diffs.result import (
    BATCHNORM,
    GGUF,
    NON_PERSISTENT,
    PARAMETRIZATION,
    PREFIX,
    RENAME,
    TIED,
    UNREGISTERED,
    Explanation,
)
from paraminspect.wording import plural

# What usually puts a prefix in front of every key.
PREFIX_CAUSES = {
    "module": "DataParallel/DistributedDataParallel",
    "_orig_mod": "torch.compile",
    "model": "a Lightning-style checkpoint (the LightningModule's `model` attribute)",
}
MAX_PREFIX_DOTS = 4  # prefixes of up to this many segments are tried
BN_STATS = ("running_mean", "running_var", "num_batches_tracked")


@dataclass
class Pools:
    """Keys not accounted for yet, and the renames found so far."""

    left: KeySet
    right: KeySet
    missing: dict[str, Key]  # in the target, absent from the other side
    unexpected: dict[str, Key]  # in the other side, absent from the target
    mapping: dict[str, str] = field(default_factory=dict)
    found: list[Explanation] = field(default_factory=list)
    # other-side names whose dtype is no torch dtype (quantized GGUF blocks): never "cast"
    no_cast: set[str] = field(default_factory=set)

    @property
    def target(self) -> str:
        return "the model" if self.left.is_model else "the target"

    @property
    def other(self) -> str:
        if not self.right.is_model:
            return "the checkpoint"
        return "the other model" if self.left.is_model else "the model"

    def claim(self, missing: list[str], unexpected: list[str]) -> None:
        for name in missing:
            self.missing.pop(name, None)
        for name in unexpected:
            self.unexpected.pop(name, None)

    def add(self, kind: str, missing: list[str], unexpected: list[str], message: str, **extra: object) -> None:
        self.claim(missing, unexpected)
        names = tuple(dict.fromkeys([*unexpected, *missing]))
        self.found.append(Explanation(kind, names, message, **extra))  # type: ignore[arg-type]


def _cause(prefix: str) -> str:
    """What put `prefix` in front of the keys, outermost wrapper first: `_orig_mod.module.` is
    torch.compile around DataParallel/DDP (compile(DDP(model))), `module._orig_mod.` the reverse."""
    causes = [PREFIX_CAUSES[p] for p in prefix.rstrip(".").split(".") if p in PREFIX_CAUSES]
    return " around ".join(causes) if causes else f"a wrapper that holds the model as `{prefix.rstrip('.')}`"


def _wrapper_chains(name: str) -> list[str]:
    """The leading prefixes of `name` made only of wrapper attributes (`module.`, `_orig_mod.`,
    `model.`): `_orig_mod.module.x` -> [`_orig_mod.`, `_orig_mod.module.`]."""
    chains, start = [], 0
    for _ in range(MAX_PREFIX_DOTS):
        dot = name.find(".", start)
        if dot < 0 or name[start:dot] not in PREFIX_CAUSES:
            break
        chains.append(name[: dot + 1])
        start = dot + 1
    return chains


def _swap_candidates(unexpected: dict[str, Key], missing: dict[str, Key]) -> Counter[tuple[str, str]]:
    """(other side's wrapper prefix, target's wrapper prefix) -> how many names differ only by
    them: a DDP checkpoint (`module.`) for a compiled target (`_orig_mod.`)."""
    by_rest: dict[str, list[str]] = defaultdict(list)
    for name in missing:
        for chain in _wrapper_chains(name):
            by_rest[name[len(chain) :]].append(chain)
    found: Counter[tuple[str, str]] = Counter()
    for name in unexpected:
        for chain in _wrapper_chains(name):
            for target_chain in by_rest.get(name[len(chain) :], ()):
                if target_chain != chain:
                    found[(chain, target_chain)] += 1
    return found


def _prefix_candidates(longer: dict[str, Key], shorter: dict[str, Key]) -> Counter[str]:
    """prefix -> how many names of `longer` are a name of `shorter` with that prefix."""
    found: Counter[str] = Counter()
    for name in longer:
        start = 0
        for _ in range(MAX_PREFIX_DOTS):
            dot = name.find(".", start)
            if dot < 0:
                break
            if name[dot + 1 :] in shorter:
                found[name[: dot + 1]] += 1
            start = dot + 1
    return found


def _how_many(count: int, of: int, what: str) -> str:
    if count == of:
        return f"the {what} key" if count == 1 else f"all {count:,} {what} keys"
    return f"{count:,} of the {of:,} {what} keys"


def explain_prefix(pools: Pools) -> None:
    """Every key (or most) differs by a prefix: `module.` (DataParallel), `_orig_mod.`, `model.`,
    or a nesting of them (`_orig_mod.module.`: one cause, one strip), or one wrapper's prefix
    where the target has another's."""
    for _ in range(3):  # a second prefix can cover what the first left (rare, but cheap)
        strip = _prefix_candidates(pools.unexpected, pools.missing)
        add = _prefix_candidates(pools.missing, pools.unexpected)
        swap = _swap_candidates(pools.unexpected, pools.missing)
        best = max(
            [(n, "strip", p, "") for p, n in strip.items()]
            + [(n, "add", p, "") for p, n in add.items()]
            + [(n, "swap", p, q) for (p, q), n in swap.items()],
            default=None,
        )
        if best is None:
            return
        count, direction, prefix, target_prefix = best
        if count < 2 and count < min(len(pools.missing), len(pools.unexpected)):
            return
        if direction == "strip":
            pairs = {
                u: u[len(prefix) :]
                for u in pools.unexpected
                if u.startswith(prefix) and u[len(prefix) :] in pools.missing
            }
            keys = _how_many(len(pairs), len(pools.unexpected), "unexpected")
            whose = pools.target
            fix = f"({_cause(prefix)}): strip it: `{{k.removeprefix({prefix!r}): v for k, v in sd.items()}}`"
        elif direction == "add":
            pairs = {
                m[len(prefix) :]: m
                for m in pools.missing
                if m.startswith(prefix) and m[len(prefix) :] in pools.unexpected
            }
            keys = _how_many(len(pairs), len(pools.missing), "missing")
            whose = pools.other
            fix = (
                f"added ({pools.target} is wrapped: {_cause(prefix)}): add it: "
                f"`{{{prefix!r} + k: v for k, v in sd.items()}}`, or load into the wrapped module"
            )
        else:
            pairs = {
                u: target_prefix + u[len(prefix) :]
                for u in pools.unexpected
                if u.startswith(prefix) and target_prefix + u[len(prefix) :] in pools.missing
            }
            keys = _how_many(len(pairs), len(pools.unexpected), "unexpected")
            message = (
                f"{keys} {'is' if len(pairs) == 1 else 'are'} {pools.target}'s "
                f"{'key' if len(pairs) == 1 else 'keys'} with `{prefix}` ({_cause(prefix)}) where "
                f"{pools.target} has `{target_prefix}` ({_cause(target_prefix)}): replace it: "
                f"`{{{target_prefix!r} + k.removeprefix({prefix!r}): v for k, v in sd.items()}}`"
            )
            pools.mapping.update(pairs)
            pools.add(PREFIX, list(pairs.values()), list(pairs), message, mapping=pairs)
            continue
        are, own = ("is", "key") if len(pairs) == 1 else ("are", "keys")
        message = f"{keys} {are} {whose}'s {own} with a `{prefix}` prefix {fix}"
        pools.mapping.update(pairs)
        pools.add(PREFIX, list(pairs.values()), list(pairs), message, mapping=pairs)


# --- GGUF files: llama.cpp's names ---------------------------------------------------------------


def explain_gguf(pools: Pools) -> None:
    """One side is a GGUF file: its llama.cpp names are mapped to the other side's with gguf's
    tensor name map, and what is left is explained (diffs/gguf_names.py)."""
    from paraminspect.diffs.gguf_names import explain_gguf_names, is_gguf

    right_is_gguf = is_gguf(pools.right)
    if right_is_gguf == is_gguf(pools.left):
        return
    if right_is_gguf:
        findings = explain_gguf_names(pools.right, pools.left, pools.unexpected, pools.missing, pools.target)
    else:
        findings = explain_gguf_names(pools.left, pools.right, pools.missing, pools.unexpected, pools.other)
    for f in findings:
        missing, unexpected = (f.other_names, f.gguf_names) if right_is_gguf else (f.gguf_names, f.other_names)
        mapping = dict(f.mapping) if right_is_gguf else {o: g for g, o in f.mapping.items()}
        pools.mapping.update(mapping)
        pools.no_cast.update(f.no_cast if right_is_gguf else (f.mapping[g] for g in f.no_cast))
        pools.add(GGUF, list(missing), list(unexpected), f.message, blocks=f.blocks, mapping=mapping)


# --- parametrizations: old hook-based norms vs torch.nn.utils.parametrizations -------------

OLD_SPECTRAL = ("_orig", "_u", "_v")
NEW_SPECTRAL = ("original", "0._u", "0._v")
OLD_WEIGHT_NORM = ("_g", "_v")
NEW_WEIGHT_NORM = ("original0", "original1")


def _new_name(base: str, suffix: str) -> str:
    module, _, tensor = base.rpartition(".")
    return f"{module + '.' if module else ''}parametrizations.{tensor}.{suffix}"


def _old_bases(names: dict[str, Key], first_suffix: str) -> list[str]:
    return [n[: -len(first_suffix)] for n in names if n.endswith(first_suffix)]


def _pair_norm(pools: Pools, old: tuple[str, ...], new: tuple[str, ...], old_on_right: bool) -> dict[str, str]:
    """right name -> left name for every module whose tensor is parametrized the other way."""
    olds_here = pools.unexpected if old_on_right else pools.missing
    news_here = pools.missing if old_on_right else pools.unexpected
    pairs: dict[str, str] = {}
    for base in _old_bases(olds_here, old[0]):
        old_names = [base + s for s in old]
        new_names = [_new_name(base, s) for s in new]
        if not all(n in olds_here for n in old_names) or not all(n in news_here for n in new_names):
            continue
        for o, n in zip(old_names, new_names, strict=True):
            if old_on_right:
                pairs[o] = n
            else:
                pairs[n] = o
    return pairs


def explain_parametrization(pools: Pools) -> None:
    """`weight_orig`/`weight_u`/`weight_v` (old spectral_norm) or `weight_g`/`weight_v` (old
    weight_norm) on one side, `parametrizations.weight.original...` on the other."""
    cases = (
        ("spectral_norm", OLD_SPECTRAL, NEW_SPECTRAL),
        ("weight_norm", OLD_WEIGHT_NORM, NEW_WEIGHT_NORM),
    )
    for norm, old, new in cases:
        for old_on_right in (True, False):
            pairs = _pair_norm(pools, old, new, old_on_right)
            if not pairs:
                continue
            modules = sorted({_owner(r if old_on_right else left) for r, left in pairs.items()})
            where = describe_names(modules, what="module")
            old_text = "/".join(f"weight{s}" for s in old)
            new_text = "parametrizations.weight." + "/".join(new)
            if old_on_right:
                saved, uses = f"the old torch.nn.utils.{norm} ({old_text})", f"parametrizations.{norm} ({new_text})"
            else:
                saved, uses = f"parametrizations.{norm} ({new_text})", f"the old torch.nn.utils.{norm} ({old_text})"
            # torch's parametrizations.weight_norm converts the old keys itself when loading
            converted = norm == "weight_norm" and old_on_right
            fix = "torch converts them when loading (weight_norm's compatibility hook)" if converted else "rename them"
            message = f"{where}: {pools.other} was saved with {saved}, {pools.target} uses {uses}: {fix}"
            if not converted:
                pools.mapping.update(pairs)
            pools.add(
                PARAMETRIZATION,
                list(pairs.values()),
                list(pairs),
                message,
                blocks=not converted,
                mapping={} if converted else pairs,
            )


# --- renamed subtrees --------------------------------------------------------------------


def _subtrees(keys: dict[str, Key]) -> dict[str, frozenset[tuple[str, tuple[int, ...] | None]]]:
    """head -> the (relative name, shape) pairs under it, for every dotted head of every key."""
    by_head: dict[str, list[tuple[str, tuple[int, ...] | None]]] = defaultdict(list)
    for name, key in keys.items():
        dot = name.find(".")
        while dot > 0:
            by_head[name[:dot]].append((name[dot + 1 :], key.shape))
            dot = name.find(".", dot + 1)
    return {head: frozenset(v) for head, v in by_head.items() if len(v) == len(set(v))}


def explain_rename(pools: Pools) -> None:
    """A subtree unexpected under one name and missing under another, with the same relative
    names and shapes: `map_classifier.*` vs `world_classifier.*`."""
    if not pools.missing or not pools.unexpected:
        return
    left_trees = _subtrees(pools.missing)
    right_trees = _subtrees(pools.unexpected)
    by_signature: dict[frozenset[tuple[str, tuple[int, ...] | None]], list[str]] = defaultdict(list)
    for head, sig in left_trees.items():
        by_signature[sig].append(head)
    order = sorted(right_trees, key=lambda h: (-len(right_trees[h]), h.count("."), h))
    used_left: set[str] = set()
    renames: list[tuple[str, str, int]] = []
    for old in order:
        sig = right_trees[old]
        if any(f"{old}.{rest}" not in pools.unexpected for rest, _ in sig):
            continue  # part of it was claimed by a larger rename
        candidates = [
            h
            for h in by_signature.get(sig, ())
            if h != old and h not in used_left and all(f"{h}.{rest}" in pools.missing for rest, _ in sig)
        ]
        if not candidates:
            continue
        new = max(candidates, key=lambda h: (difflib.SequenceMatcher(None, old, h).ratio(), -len(h)))
        used_left.add(new)
        rests = {rest for rest, _ in sig}
        prefix = f"{old}."
        pairs = {
            u: f"{new}.{u[len(prefix) :]}"
            for u in pools.unexpected
            if u.startswith(prefix) and u[len(prefix) :] in rests
        }
        pools.mapping.update(pairs)
        pools.claim(list(pairs.values()), list(pairs))
        renames.append((old, new, len(pairs)))
        pools.found.append(
            Explanation(
                RENAME,
                tuple([*pairs, *pairs.values()]),
                f"`{old}.*` in {pools.other} is `{new}.*` in {pools.target} ({plural(len(pairs), 'key')}, "
                "same relative names and shapes): rename it",
                mapping=pairs,
            )
        )


# --- registration kinds ------------------------------------------------------------------


def _owner(name: str) -> str:
    return name.rpartition(".")[0]


def _leaf(name: str) -> str:
    return name.rpartition(".")[2]


def _by_leaf(names: list[str]) -> str:
    """`inv_freq` in 12 modules, or the names themselves when few."""
    leaves = Counter(_leaf(n) for n in names)
    if len(names) <= 3:
        return ", ".join(f"`{n}`" for n in names)
    parts = [f"`{leaf}` ({plural(count, 'module')})" for leaf, count in leaves.most_common(3)]
    rest = len(leaves) - 3
    return ", ".join(parts) + (f" and {rest} more" if rest > 0 else "")


def explain_registration(pools: Pools) -> None:
    """Keys one side saved that the other holds as a non-persistent buffer or a plain tensor attribute."""
    left, right = pools.left, pools.right
    non_persistent = [u for u in pools.unexpected if u in left.non_persistent]
    if non_persistent:
        pools.add(
            NON_PERSISTENT,
            [],
            non_persistent,
            f"{_by_leaf(non_persistent)}: non-persistent buffers in {pools.target} (register_buffer(..., "
            f"persistent=False)); older code saved them: drop them from {pools.other} (they are recomputed)",
        )
    np_missing = [m for m in pools.missing if m in right.non_persistent]
    if np_missing:
        pools.add(
            NON_PERSISTENT,
            np_missing,
            [],
            f"{_by_leaf(np_missing)}: non-persistent buffers in {pools.other}, so it never saves them: "
            f"register them with persistent=False in {pools.target} too, or load with strict=False",
        )
    plain = [u for u in pools.unexpected if u in left.unregistered]
    if plain:
        pools.add(
            UNREGISTERED,
            [],
            plain,
            f"{_by_leaf(plain)}: {pools.target} holds {'it' if len(plain) == 1 else 'them'} as a plain tensor "
            "attribute, which load_state_dict skips (even with strict=False the saved values never arrive): "
            "register it with self.register_buffer(name, tensor)",
        )
    plain_missing = [m for m in pools.missing if m in right.unregistered]
    if plain_missing:
        pools.add(
            UNREGISTERED,
            plain_missing,
            [],
            f"{_by_leaf(plain_missing)}: {pools.other} holds them as plain tensor attributes, so it never "
            "saves them: register them there with self.register_buffer(name, tensor)",
        )


def explain_tied(pools: Pools) -> None:
    """A missing key whose tensor is tied to a key the other side has (saved once)."""
    aliases = pools.left.alias_of()
    if not aliases:
        return
    present = {n for n in pools.right.keys if n not in pools.mapping} | set(pools.mapping.values())
    tied: dict[str, str] = {}
    for name in pools.missing:
        kept = next((a for a in aliases.get(name, ()) if a in present), None)
        if kept is not None:
            tied[name] = kept
    if not tied:
        return
    first, kept = next(iter(tied.items()))
    more = f" (and {plural(len(tied) - 1, 'more key')})" if len(tied) > 1 else ""
    pools.add(
        TIED,
        list(tied),
        [],
        f"`{first}` is tied to `{kept}` (one tensor){more}, which {pools.other} has: it was saved once; "
        "load with strict=False and the tie fills it",
    )


def explain_batchnorm(pools: Pools) -> None:
    """num_batches_tracked and running statistics that one side's BatchNorm does not track."""
    left, right = pools.left, pools.right
    verdict = left.verdict
    counters = [
        m for m in pools.missing if _leaf(m) == "num_batches_tracked" and right.batchnorm.get(_owner(m)) is not False
    ]
    if counters:
        filled = verdict is not None and not any(m in verdict.missing for m in counters)
        if filled:
            message = (
                f"{_by_leaf(counters)}: {pools.other} has no BatchNorm step counter; it carries no version "
                "metadata, so torch fills it when loading"
            )
        else:
            message = (
                f"{_by_leaf(counters)}: {pools.other} has no BatchNorm step counter (saved with "
                "track_running_stats=False or stripped): load with strict=False (the counter matters only "
                "for momentum=None)"
            )
        pools.add(BATCHNORM, counters, [], message, blocks=not filled)
    untracked = [u for u in pools.unexpected if _leaf(u) in BN_STATS and left.batchnorm.get(_owner(u)) is False]
    if untracked:
        pools.add(
            BATCHNORM,
            [],
            untracked,
            f"{_by_leaf(untracked)}: {pools.target}'s BatchNorm has track_running_stats=False, so it has no "
            f"place for {pools.other}'s running statistics: build it with track_running_stats=True, or drop them",
        )
    no_stats = [
        m
        for m in pools.missing
        if _leaf(m) in BN_STATS and (right.batchnorm.get(_owner(m)) is False or left.batchnorm.get(_owner(m)))
    ]
    if no_stats:
        pools.add(
            BATCHNORM,
            no_stats,
            [],
            f"{_by_leaf(no_stats)}: {pools.other} has no BatchNorm running statistics (saved with "
            f"track_running_stats=False): build {pools.target} the same way, or load with strict=False",
        )


EXPLAINERS = (
    explain_gguf,
    explain_prefix,
    explain_parametrization,
    explain_registration,
    explain_batchnorm,
    explain_rename,
    explain_tied,
)


def explain_keys(left: KeySet, right: KeySet, missing: dict[str, Key], unexpected: dict[str, Key]) -> Pools:
    pools = Pools(left, right, dict(missing), dict(unexpected))
    for explainer in EXPLAINERS:
        explainer(pools)
    return pools
