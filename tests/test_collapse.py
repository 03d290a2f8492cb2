"""Folding repeated blocks (`blocks.{0..11}.attn.qkv.weight  x12`): a pure function of names
and keys, on plain names, real inventories and forward-pass rows."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from paraminspect.forward.stats import forward_stats
from paraminspect.forward.stats_data import fold_key
from paraminspect.tensors.collapse import fold, index_runs, module_key, run_label, structure_keys, tensor_key
from paraminspect.tensors.totals import module_summary
from paraminspect.tensors.walk import build_inventory


def names_of(rows: list) -> list[tuple[str, int]]:
    return [(r.name, r.count) for r in rows]


def same(_: str) -> int:
    return 0


def test_alike_blocks_fold_into_one_row() -> None:
    names = [f"blocks.{i}.attn.qkv.{p}" for i in range(12) for p in ("weight", "bias")] + ["norm.weight"]
    rows = fold(names, str, same)
    assert names_of(rows) == [
        ("blocks.{0..11}.attn.qkv.weight", 12),
        ("blocks.{0..11}.attn.qkv.bias", 12),
        ("norm.weight", 1),
    ]
    assert rows[0].members == tuple(f"blocks.{i}.attn.qkv.weight" for i in range(12))
    assert rows[0].item == "blocks.0.attn.qkv.weight" and rows[0].folded and not rows[2].folded


def test_a_differing_block_splits_the_run_and_stays_whole() -> None:
    names = [f"blocks.{i}.{p}" for i in range(12) for p in ("w", "b")]
    rows = fold(names, str, lambda n: n == "blocks.5.b")  # block 5 differs in one tensor
    assert names_of(rows) == [
        ("blocks.{0..4}.w", 5),
        ("blocks.{0..4}.b", 5),
        ("blocks.5.w", 1),
        ("blocks.5.b", 1),
        ("blocks.{6..11}.w", 6),
        ("blocks.{6..11}.b", 6),
    ]


def test_gaps_and_structure_differences_end_runs() -> None:
    gap = [f"layers.{i}.w" for i in (0, 1, 2, 4, 5, 9)]
    assert names_of(fold(gap, str, same)) == [("layers.{0..2}.w", 3), ("layers.{4..5}.w", 2), ("layers.9.w", 1)]
    extra = ["h.0.w", "h.1.w", "h.1.extra", "h.2.w", "h.3.w"]  # block 1 has one more tensor
    assert names_of(fold(extra, str, same)) == [
        ("h.0.w", 1),
        ("h.1.w", 1),
        ("h.1.extra", 1),
        ("h.{2..3}.w", 2),
    ]


def test_only_plain_decimal_parts_are_indices() -> None:
    names = ["b.01.w", "b.02.w", "b.x1.w", "b.x2.w", "b.-1.w", "b.٣.w"]
    assert names_of(fold(names, str, same)) == [(n, 1) for n in names]


def test_nested_repeats_fold_from_the_inside_out() -> None:
    names = [f"layers.{i}.experts.{j}.w1" for i in range(32) for j in range(8)]
    assert names_of(fold(names, str, same)) == [("layers.{0..31}.experts.{0..7}.w1", 256)]
    # layer 3 has four experts: it splits the outer run and keeps its own inner run
    names = [f"layers.{i}.experts.{j}.w1" for i in range(32) for j in range(4 if i == 3 else 8)]
    rows = fold(names, str, same)
    assert names_of(rows) == [
        ("layers.{0..2}.experts.{0..7}.w1", 24),
        ("layers.3.experts.{0..3}.w1", 4),
        ("layers.{4..31}.experts.{0..7}.w1", 224),
    ]
    assert sum(r.count for r in rows) == len(names)


def test_rows_keep_the_input_order() -> None:
    names = ["big.0.w", "small", "big.1.w", "big.2.w", "tail"]  # as a table sorted by size might list them
    assert names_of(fold(names, str, same)) == [("big.{0..2}.w", 3), ("small", 1), ("tail", 1)]


def test_runs_and_labels() -> None:
    assert index_runs([8, 0, 1, 2, 5, 7, 2]) == [(0, 2), (5, 5), (7, 8)]
    assert run_label(0, 11) == "{0..11}"


# --- real records ----------------------------------------------------------------------------


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.Linear(8, 24)
        self.norm = nn.LayerNorm(8)
        self.register_buffer("mask", torch.ones(4), persistent=False)


class Stack(nn.Module):
    def __init__(self, n: int = 6) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block() for _ in range(n))
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block.norm(x + block.attn(x)[..., :8])
        return self.head(x)


def test_tensor_records_fold_where_kind_shape_dtype_and_grad_are_equal() -> None:
    model = Stack()
    model.blocks[3].attn.weight.requires_grad_(False)  # frozen in one block
    with torch.no_grad():
        model.blocks[4].norm.to(torch.float16)  # another dtype in another
    records = build_inventory(model).tensors
    rows = fold(records, lambda r: r.name, tensor_key)
    listed = names_of(rows)
    assert ("blocks.{0..2}.attn.weight", 3) in listed and ("blocks.5.attn.weight", 1) in listed
    assert ("blocks.3.attn.weight", 1) in listed and ("blocks.4.norm.weight", 1) in listed
    assert ("blocks.{0..2}.mask", 3) in listed  # non-persistent buffers fold with their own kind
    assert sum(r.count for r in rows) == len(records)
    assert sorted(m for r in rows for m in r.members) == sorted(r.name for r in records)
    alike = fold(build_inventory(Stack()).tensors, lambda r: r.name, tensor_key)
    assert ("blocks.{0..5}.attn.weight", 6) in names_of(alike)


def test_module_rows_fold_by_their_whole_subtree() -> None:
    model = Stack()
    # block 2 holds as many elements, arranged otherwise: attn's 24 bias elements sit in norm
    model.blocks[2].attn = nn.Linear(8, 24, bias=False)
    model.blocks[2].norm.extra = nn.Parameter(torch.zeros(24))
    inv = build_inventory(model)
    rows = module_summary(inv, 2)  # down to the blocks: their insides are not rows
    by_counts = fold(rows, lambda r: r.path, module_key)
    assert ("blocks.{0..5}", 6) in names_of(by_counts)  # counts alone cannot tell block 2 apart
    structure = structure_keys(inv.tensors)
    by_structure = fold(rows, lambda r: r.path, lambda r: module_key(r, structure))
    assert names_of(by_structure) == [
        ("", 1),
        ("blocks", 1),
        ("blocks.{0..1}", 2),
        ("blocks.2", 1),
        ("blocks.{3..5}", 3),
        ("head", 1),
    ]
    # with every level as rows, the differing children already keep block 2 apart
    deep = names_of(fold(module_summary(inv, 9), lambda r: r.path, module_key))
    assert ("blocks.{0..1}.attn", 2) in deep and ("blocks.2.attn", 1) in deep and ("blocks.{3..5}", 3) in deep


def test_forward_rows_fold_where_shapes_and_flops_are_equal() -> None:
    with torch.device("meta"):
        model = Stack()
    stats = forward_stats(model, torch.randn(2, 8))
    rows = fold(stats.modules, lambda m: m.name, fold_key)
    assert ("blocks.{0..5}.attn", 6) in names_of(rows)
    folded = next(r for r in rows if r.name == "blocks.{0..5}.attn")
    assert folded.item.output_shapes == ((2, 24),) and folded.item.flops == 2 * 2 * 8 * 24
    # a block called twice no longer folds with the others
    changed = dataclasses.replace(stats.modules[3], calls=2)
    modules = (*stats.modules[:3], changed, *stats.modules[4:])
    assert stats.modules[3].name == "blocks.0.attn"
    listed = names_of(fold(modules, lambda m: m.name, fold_key))
    assert ("blocks.0.attn", 1) in listed and ("blocks.{1..5}.attn", 5) in listed


# --- properties ------------------------------------------------------------------------------

_PART = st.one_of(st.sampled_from(["a", "b", "w", "x"]), st.integers(0, 4).map(str))
_NAMES = st.lists(st.lists(_PART, min_size=1, max_size=4).map(".".join), max_size=40, unique=True)


def _expands_to(pattern: str, name: str) -> bool:
    """Whether `name` is one of the names `pattern` stands for."""
    regex = ""
    for piece in re.split(r"(\{\d+\.\.\d+\})", pattern):
        match = re.fullmatch(r"\{(\d+)\.\.(\d+)\}", piece)
        regex += "(\\d+)" if match else re.escape(piece)
    found = re.fullmatch(regex, name)
    if found is None:
        return False
    bounds = [tuple(map(int, m)) for m in re.findall(r"\{(\d+)\.\.(\d+)\}", pattern)]
    return all(lo <= int(v) <= hi for v, (lo, hi) in zip(found.groups(), bounds, strict=True))


@settings(max_examples=300, deadline=None)
@given(_NAMES, st.integers(0, 2))
def test_folding_partitions_the_items(names: list[str], kinds: int) -> None:
    def key(name: str) -> int:
        return hash(name.rsplit(".", 1)[-1]) % (kinds + 1)

    rows = fold(names, str, key)
    members = [m for r in rows for m in r.members]
    assert sorted(members) == sorted(names)  # every item once
    assert sum(r.count for r in rows) == len(names)
    for r in rows:
        assert len(r.members) == r.count
        assert r.item == r.members[0] and len({key(m) for m in r.members}) == 1
        assert all(_expands_to(r.name, m) for m in r.members), (r.name, r.members)
    firsts = [names.index(r.members[0]) for r in rows]
    assert firsts == sorted(firsts)  # input order kept


def test_the_plain_data_side_imports_no_torch() -> None:
    """Folding, the forward-pass records, training memory and the tree renderer serve a parent
    process that never imports torch."""
    code = (
        "import sys\n"
        "import paraminspect.tensors.collapse, paraminspect.forward.stats_data\n"
        "import paraminspect.forward.training_memory, paraminspect.render.tree\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
