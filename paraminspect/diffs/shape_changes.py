"""Shape and dtype differences, grouped by their likely cause (pure)."""

from __future__ import annotations

from collections import defaultdict

from paraminspect.diffs.grouping import describe_names
from paraminspect.diffs.keyset import Key, KeySet
from paraminspect.diffs.result import DTYPE, SHAPE, Explanation
from paraminspect.wording import plural

HEAD_NAMES = ("head", "fc", "classifier", "cls", "last_linear", "logits", "output", "out", "pred", "heads")
VOCAB_HEADS = ("lm_head", "embed_out", "output_projection")
EMBEDDING_NAMES = ("embed_tokens", "wte", "word_embeddings", "tok_embeddings", "token_embedding", "embedding")
POSITION_HINTS = ("pos", "position")

Pair = tuple[str, str, Key, Key]  # (left name, right name, left key, right key)


def _shape(shape: tuple[int, ...] | None) -> str:
    return "uninitialized" if shape is None else "(" + ", ".join(str(s) for s in shape) + ")"


def _one_axis(left: tuple[int, ...], right: tuple[int, ...]) -> int | None:
    """The only axis on which two same-rank shapes differ, else None."""
    if len(left) != len(right):
        return None
    axes = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
    return axes[0] if len(axes) == 1 else None


def _cause(pair: Pair, left: KeySet, last_module: str) -> tuple[str, str] | None:
    """(group key, message) for one mismatched pair; None when no cause is recognised."""
    name, _, lkey, rkey = pair
    lshape, rshape = lkey.shape, rkey.shape
    module, _, leaf = name.rpartition(".")
    module_leaf = module.rpartition(".")[2]
    if lshape is None or rshape is None:
        return "lazy", "an uninitialized (lazy) parameter on one side: run a forward pass before loading"
    axis = _one_axis(lshape, rshape)
    if len(lshape) == 2 and lshape == rshape[::-1] and lshape != rshape:
        return (
            "transposed",
            "transposed: (in, out) as a Conv1D (GPT-2 style) stores it vs (out, in) as nn.Linear does: "
            "transpose them (.t()) when converting",
        )
    if axis is None:
        return None
    r, lv = rshape[axis], lshape[axis]
    kind = left.module_types.get(module, "")
    if any(h in leaf.lower() for h in POSITION_HINTS) or any(h in module_leaf.lower() for h in POSITION_HINTS):
        return (
            f"pos:{name}",
            f"a position embedding for {r:,} vs {lv:,} positions (another image or patch size, or context "
            "length): interpolate it (timm.layers.resample_abs_pos_embed) or build the model for "
            f"{r:,} positions",
        )
    if axis == 0 and (module_leaf in VOCAB_HEADS or module_leaf in EMBEDDING_NAMES or kind == "Embedding"):
        return (
            f"vocab:{r}:{lv}",
            f"an embedding for a vocabulary of {r:,} vs {lv:,} tokens: resize the model "
            f"(resize_token_embeddings({r})) or the checkpoint",
        )
    if axis == 0 and leaf in ("weight", "bias") and (module_leaf in HEAD_NAMES or module == last_module):
        return (
            f"head:{module}",
            f"a classifier head for {r:,} vs {lv:,} classes: build the model with num_classes={r}, or drop "
            f"`{module}.*` from the checkpoint and load the rest with strict=False",
        )
    return None


def explain_shapes(left: KeySet, pairs: list[Pair], other: str, target: str) -> list[Explanation]:
    """One explanation per recognised cause: `head.weight` and `head.bias` are one 1000-vs-10
    head. Pairs with no recognised cause are left for the plain list."""
    if not pairs:
        return []
    last_module = next((n.rpartition(".")[0] for n in reversed(list(left.keys)) if n.endswith(".weight")), "")
    groups: dict[str, list[Pair]] = defaultdict(list)
    messages: dict[str, str] = {}
    for pair in pairs:
        cause = _cause(pair, left, last_module)
        if cause is None:
            continue
        key, message = cause
        groups[key].append(pair)
        messages[key] = message
    out = []
    for key, members in groups.items():
        lname, rname, lkey, rkey = members[0]
        example = (
            f"`{lname}` is {_shape(rkey.shape)} in {other}, {_shape(lkey.shape)} in {target}"
            if lname == rname
            else f"`{rname}` {_shape(rkey.shape)} -> `{lname}` {_shape(lkey.shape)}"
        )
        more = f" (and {plural(len(members) - 1, 'more')})" if len(members) > 1 else ""
        names = tuple(dict.fromkeys(n for m in members for n in (m[0], m[1])))
        out.append(Explanation(SHAPE, names, f"{messages[key]}; {example}{more}"))
    return out


def explain_dtypes(pairs: list[Pair], other: str, target: str) -> list[Explanation]:
    """dtype differences are information: load_state_dict copies into the target's dtype."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for lname, _, lkey, rkey in pairs:
        if lkey.dtype != rkey.dtype:
            groups[(rkey.dtype, lkey.dtype)].append(lname)
    out = []
    for (rdtype, ldtype), names in groups.items():
        out.append(
            Explanation(
                DTYPE,
                tuple(names),
                f"{describe_names(names, 'tensor')} {'is' if len(names) == 1 else 'are'} {rdtype} in {other}, "
                f"{ldtype} in {target}: load_state_dict casts them (with assign=True they stay {rdtype})",
                blocks=False,
            )
        )
    return out
