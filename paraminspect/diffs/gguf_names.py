"""llama.cpp's tensor names (a GGUF file) against Hugging Face names: the mapping, and why
what is left does not line up.

The mapping is gguf's own tensor name map for the file's architecture and block count, applied
the way transformers' GGUF loader applies it: each Hugging Face name of the other side is
mapped forward (`model.layers.0.self_attn.q_proj.weight` -> `blk.0.attn_q.weight`), since one
llama.cpp name stands for many Hugging Face spellings. What it leaves is explained: tensors
llama.cpp keeps apart that the model fuses (or the reverse), quantized tensors, llama's
permuted q/k rows, a tied output, another layer count, llama.cpp-only tensors.

Pure functions on names, shapes and dtypes (plain data in, plain data out); imports gguf
(the `gguf` extra), never torch.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from paraminspect.diffs.grouping import plural
from paraminspect.diffs.keyset import Key, KeySet

SUFFIXES = (".weight", ".bias")
# GGML types that are plain element types (their torch names); anything else is quantized blocks.
PLAIN_DTYPES = frozenset({"float32", "float16", "bfloat16", "float64", "int8", "int16", "int32", "int64"})
# Architectures whose q/k rows llama.cpp's converter permutes (and transformers' GGUF loader
# un-permutes: its LlamaTensorProcessor).
PERMUTED_QK_ARCHS = frozenset({"llama"})
GGUF_BLOCK = re.compile(r"^blk\.(\d+)\.")
# gguf's name map has an entry per block and name: a header claiming 2**60 blocks is not mapped.
MAX_BLOCKS = 10_000
HF_LAYER = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks|block)\.(\d+)\.")


@dataclass(frozen=True)
class Finding:
    """One cause: the GGUF names and the other side's names it accounts for."""

    gguf_names: tuple[str, ...]
    other_names: tuple[str, ...]
    message: str
    blocks: bool = True
    mapping: dict[str, str] = field(default_factory=dict)  # GGUF name -> other side's name
    no_cast: tuple[str, ...] = ()  # GGUF names whose dtype is no torch dtype (quantized)


def is_gguf(keyset: KeySet) -> bool:
    return keyset.format_facts.get("format") == "gguf"


def _arch(architecture: Any) -> Any:
    from gguf.constants import MODEL_ARCH_NAMES

    return next((arch for arch, name in MODEL_ARCH_NAMES.items() if name == architecture), None)


def _layers(names: Iterable[str]) -> int:
    """1 + the highest layer index in Hugging Face names (`model.layers.31.`), 0 if none."""
    found = [int(m.group(1)) for m in map(HF_LAYER.search, names) if m]
    return max(found) + 1 if found else 0


def name_map(architecture: str, blocks: int) -> Any:
    """gguf's TensorNameMap for an architecture (None when this gguf does not know it)."""
    from gguf.tensor_mapping import get_tensor_name_map

    arch = _arch(architecture)
    return None if arch is None else get_tensor_name_map(arch, blocks)


def gguf_name_of(names: Any, hf_name: str, gguf_names: Any) -> str | None:
    """The GGUF name a Hugging Face name is saved under, if the map knows it (a suffix-less
    Hugging Face name such as `experts.down_proj` is saved as `....ffn_down_exps.weight`)."""
    found = names.get_name(hf_name, try_suffixes=SUFFIXES)
    if found is None:
        return None
    if found not in gguf_names and f"{found}.weight" in gguf_names:
        return f"{found}.weight"
    return found


def hf_mapping(gguf_names: Iterable[str], hf_names: Iterable[str], architecture: str, blocks: int) -> dict[str, str]:
    """GGUF name -> the Hugging Face name it stands for, for the names of both lists that the
    tensor name map pairs (forward, one Hugging Face name at a time, as transformers does)."""
    gguf_set = set(gguf_names)
    names = name_map(architecture, blocks)
    if names is None:
        return {}
    out: dict[str, str] = {}
    for hf in hf_names:
        found = gguf_name_of(names, hf, gguf_set)
        if found is not None and found in gguf_set and found not in out:
            out[found] = hf
    return out


def _role_tokens(hf_name: str) -> set[str]:
    """`...experts.gate_up_proj` -> {gate, up}; `qkv_proj` -> {q, k, v}: what a fused name holds."""
    leaf = hf_name.removesuffix(".weight").removesuffix(".bias").rpartition(".")[2]
    tokens: set[str] = set()
    for token in leaf.lower().split("_"):
        tokens |= set(token) if token in ("qkv", "kv", "qk") else {token}
    tokens |= {"q", "k", "v"} if "query_key_value" in leaf or leaf in ("wqkv", "c_attn") else set()
    return tokens


def _gguf_role(name: str) -> str:
    """`blk.0.ffn_gate_exps.weight` -> gate; `blk.0.attn_q.weight` -> q."""
    base = GGUF_BLOCK.sub("", name).removesuffix(".weight").removesuffix(".bias")
    return base.removeprefix("attn_").removeprefix("ffn_").removesuffix("_exps")


def _concat_axis(parts: list[tuple[int, ...]], whole: tuple[int, ...]) -> int | None:
    """The axis along which `parts` concatenate to `whole`, else None."""
    if not parts or any(len(p) != len(whole) for p in parts):
        return None
    for axis in range(len(whole)):
        others_equal = all(p[:axis] + p[axis + 1 :] == whole[:axis] + whole[axis + 1 :] for p in parts)
        if others_equal and sum(p[axis] for p in parts) == whole[axis]:
            return axis
    return None


def _gguf_layer(name: str) -> str:
    m = GGUF_BLOCK.search(name)
    return m.group(1) if m else ""


def _hf_layer(name: str) -> str:
    m = HF_LAYER.search(name)
    return m.group(1) if m else ""


def _fused(
    gguf_pool: dict[str, Key], other_pool: dict[str, Key], gguf_is_split: bool
) -> list[tuple[str, list[str], int]]:
    """(fused name, its parts, axis): a tensor of one side that is tensors of the other side of
    the same layer concatenated, the parts' roles named in the fused name (`gate_up_proj` =
    `ffn_gate_exps` + `ffn_up_exps`; `attn_qkv` = `q_proj` + `k_proj` + `v_proj`)."""
    if gguf_is_split:
        wholes, parts_pool, whole_layer, part_layer = other_pool, gguf_pool, _hf_layer, _gguf_layer

        def is_part(part: str, whole: str) -> bool:
            return _gguf_role(part) in _role_tokens(whole)
    else:
        wholes, parts_pool, whole_layer, part_layer = gguf_pool, other_pool, _gguf_layer, _hf_layer

        def is_part(part: str, whole: str) -> bool:
            return _hf_part_role(part) in _fused_roles(whole)

    by_layer: dict[str, list[str]] = defaultdict(list)
    for name, key in parts_pool.items():
        if key.shape is not None:
            by_layer[part_layer(name)].append(name)
    out = []
    for whole, key in wholes.items():
        parts = [p for p in by_layer.get(whole_layer(whole), []) if is_part(p, whole)]
        if key.shape is None or len(parts) < 2:
            continue
        axis = _concat_axis([parts_pool[p].shape for p in parts], key.shape)  # type: ignore[misc]
        if axis is not None:
            out.append((whole, parts, axis))
    return out


def _hf_part_role(hf_name: str) -> str:
    leaf = hf_name.removesuffix(".weight").removesuffix(".bias").rpartition(".")[2].lower()
    return leaf.removesuffix("_proj").removeprefix("w")


def _fused_roles(gguf_name: str) -> set[str]:
    role = _gguf_role(gguf_name)
    return set(role) if role in ("qkv", "kv") else set(role.split("_"))


@dataclass
class _Context:
    gguf_all: dict[str, Key]
    other_all: dict[str, Key]
    gguf_pool: dict[str, Key]  # not accounted for yet
    other_pool: dict[str, Key]
    facts: dict[str, Any]
    other: str  # "the model", "the target", ...
    tied: dict[str, tuple[str, ...]]
    found: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        for name in finding.gguf_names:
            self.gguf_pool.pop(name, None)
        for name in finding.other_names:
            self.other_pool.pop(name, None)
        self.found.append(finding)


def explain_gguf_names(
    gguf_side: KeySet,
    other_side: KeySet,
    gguf_pool: dict[str, Key],
    other_pool: dict[str, Key],
    other: str,
) -> list[Finding]:
    """Why the GGUF side's names (those in `gguf_pool`, not yet accounted for) differ from the
    other side's (`other_pool`). The pools are not changed."""
    facts = gguf_side.format_facts
    ctx = _Context(
        gguf_side.keys, other_side.keys, dict(gguf_pool), dict(other_pool), facts, other, other_side.alias_of()
    )
    arch, blocks = facts.get("architecture"), facts.get("block_count")
    if not isinstance(arch, str) or type(blocks) is not int:
        return []
    layers = _layers(other_side.keys)
    if not 0 <= max(blocks, layers) <= MAX_BLOCKS:
        ctx.add(
            Finding(
                tuple(gguf_pool),
                (),
                f"the GGUF file claims {blocks:,} blocks: not mapped (gguf's name map has an entry per block)",
            )
        )
        return ctx.found
    names = name_map(arch, max(blocks, layers))
    if names is None:
        ctx.add(
            Finding(
                tuple(gguf_pool),
                (),
                f"the GGUF file's architecture {arch!r} is not in this gguf package's tensor name map: "
                "upgrade gguf (pip install -U gguf) to map its names",
            )
        )
        return ctx.found
    _renamed(ctx, names, arch)
    _layer_count(ctx, names, blocks, layers)
    _tied_output(ctx, names)
    _fusions(ctx)
    _llama_cpp_only(ctx, names)
    return ctx.found


def _renamed(ctx: _Context, names: Any, arch: str) -> None:
    pairs: dict[str, str] = {}
    for hf in ctx.other_pool:
        found = gguf_name_of(names, hf, ctx.gguf_pool)
        if found is not None and found in ctx.gguf_pool and found not in pairs:
            pairs[found] = hf
    if not pairs:
        return
    first = next(iter(pairs.items()))
    ctx.add(
        Finding(
            tuple(pairs),
            tuple(pairs.values()),
            f"{plural(len(pairs), 'key')} of the GGUF file {'is' if len(pairs) == 1 else 'are'} llama.cpp's "
            f"names (architecture {arch!r}): gguf's tensor name map gives {ctx.other}'s names (`{first[0]}` is "
            f"`{first[1]}`): rename them, or load the file with transformers' from_pretrained(..., gguf_file=...), "
            "which renames, dequantizes and un-permutes",
            mapping=pairs,
        )
    )
    quantized = {g: ctx.gguf_all[g].dtype for g in pairs if ctx.gguf_all[g].dtype not in PLAIN_DTYPES}
    if quantized:
        types = Counter(quantized.values()).most_common()
        type_text = ", ".join(f"{t} x{n:,}" for t, n in types)
        ctx.found.append(
            Finding(
                tuple(quantized),
                tuple(pairs[g] for g in quantized),
                f"{plural(len(quantized), 'tensor')} of the GGUF file {'is' if len(quantized) == 1 else 'are'} "
                f"quantized ({type_text}): load_state_dict cannot take GGML blocks: dequantize them "
                "(gguf.quants.dequantize(data, type)) or load with from_pretrained(..., gguf_file=...)",
                no_cast=tuple(quantized),
            )
        )
    permuted = [g for g in pairs if arch in PERMUTED_QK_ARCHS and re.search(r"\.attn_[qk]\.weight$", g)]
    if permuted:
        ctx.found.append(
            Finding(
                tuple(permuted),
                tuple(pairs[g] for g in permuted),
                f"`attn_q`/`attn_k` weights ({plural(len(permuted), 'tensor')}): llama.cpp's converter permutes "
                "the rows of llama's q_proj/k_proj weights for its rotary layout: torch loads them after the "
                "rename, but attention comes out wrong unless the permutation is undone per head (transformers' "
                "GGUF loader does)",
                blocks=False,
            )
        )


def _layer_count(ctx: _Context, names: Any, blocks: int, layers: int) -> None:
    if layers == blocks or not layers:
        return
    if layers > blocks:
        extra = [hf for hf in ctx.other_pool if (m := HF_LAYER.search(hf)) and int(m.group(1)) >= blocks]
        gguf_extra: list[str] = []
    else:
        extra = []
        gguf_extra = [g for g in ctx.gguf_pool if (m := GGUF_BLOCK.search(g)) and int(m.group(1)) >= layers]
    if not extra and not gguf_extra:
        return
    ctx.add(
        Finding(
            tuple(gguf_extra),
            tuple(extra),
            f"the GGUF file has {plural(blocks, 'block')}, {ctx.other} {plural(layers, 'layer')}: "
            f"{plural(len(extra) + len(gguf_extra), 'key')} of the extra layers have no counterpart: "
            f"build it with num_hidden_layers={blocks}",
        )
    )


def _tied_output(ctx: _Context, names: Any) -> None:
    """The file has no output.weight: llama.cpp reuses token_embd.weight (tied embeddings)."""
    if "output.weight" in ctx.gguf_all or "token_embd.weight" not in ctx.gguf_all:
        return
    for hf in list(ctx.other_pool):
        if gguf_name_of(names, hf, ctx.gguf_all) != "output.weight":
            continue
        if any(gguf_name_of(names, alias, ctx.gguf_all) == "token_embd.weight" for alias in ctx.tied.get(hf, ())):
            return  # tied in the model too: the tie fills it (the `tied` explanation says so)
        ctx.add(
            Finding(
                (),
                (hf,),
                f"`{hf}`: the GGUF file has no `output.weight`: llama.cpp then uses `token_embd.weight` as the "
                f"output (tied embeddings), {ctx.other} has a separate one: build it with tie_word_embeddings=True",
            )
        )
        return


def _fusions(ctx: _Context) -> None:
    for gguf_is_split in (True, False):
        found = _fused(ctx.gguf_pool, ctx.other_pool, gguf_is_split)
        if not found:
            continue
        groups: dict[tuple[str, ...], list[tuple[str, list[str], int]]] = defaultdict(list)
        for whole, parts, axis in found:
            groups[(_generic(whole), *map(_generic, parts), str(axis))].append((whole, parts, axis))
        for members in groups.values():
            whole, parts, axis = members[0]
            more = f" (and {plural(len(members) - 1, 'more layer')})" if len(members) > 1 else ""
            joined = " + ".join(f"`{p}`" for p in parts)
            if gguf_is_split:
                text = (
                    f"`{whole}` in {ctx.other} is {joined} of the GGUF file concatenated along dim {axis}{more}: "
                    "llama.cpp keeps them apart: concatenate them when converting"
                )
            else:
                text = (
                    f"`{whole}` of the GGUF file is {joined} of {ctx.other} concatenated along dim {axis}{more}: "
                    "llama.cpp fuses them: split it when converting"
                )
            gguf_names = [n for w, p, _ in members for n in (p if gguf_is_split else [w])]
            other_names = [n for w, p, _ in members for n in ([w] if gguf_is_split else p)]
            ctx.add(Finding(tuple(gguf_names), tuple(other_names), text))


def _generic(name: str) -> str:
    return re.sub(r"\.\d+\.", ".N.", name)


def _llama_cpp_only(ctx: _Context, names: Any) -> None:
    """GGUF tensors the name map knows as llama.cpp tensor types that have no name in the model
    (rope_freqs: llama 3's rope scaling factors, which transformers computes from the config)."""
    known = []
    for g in ctx.gguf_pool:
        typed = names.get_type_and_name(g, try_suffixes=SUFFIXES)
        if typed is not None:
            known.append((g, typed[0].name))
    if not known:
        return
    shown = ", ".join(f"`{g}` ({kind})" for g, kind in known[:3]) + (" ..." if len(known) > 3 else "")
    ctx.add(
        Finding(
            tuple(g for g, _ in known),
            (),
            f"{shown}: llama.cpp tensors with no name in {ctx.other} (it computes or lacks them): drop them",
        )
    )
