"""`render/tree.py`: the module tree with output shapes, parameters and FLOPs, fitted to a width."""

from __future__ import annotations

import torch
from torch import nn

from paraminspect.forward.stats import forward_stats
from paraminspect.render.fit import cell_width
from paraminspect.render.tree import TreeRow, flops_text, shapes_text, tree_lines, tree_rows
from paraminspect.tensors.totals import module_summary
from paraminspect.tensors.walk import build_inventory


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.Linear(8, 8)
        self.mlp = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(x + self.attn(x))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(Block() for _ in range(4)))
        self.unused = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x))


def _rows(collapse: bool = True) -> tuple[nn.Module, list[TreeRow]]:
    with torch.device("meta"):
        model = Net()
    stats = forward_stats(model, torch.randn(2, 5, 8))
    return model, tree_rows(module_summary(build_inventory(model), 9), stats, collapse=collapse)


def test_the_tree_folds_repeated_blocks_and_draws_branches() -> None:
    model, rows = _rows()
    lines = tree_lines(rows)
    assert lines[0].split() == ["Module", "Output", "shape", "Params", "FLOPs"]
    body = lines[2:]
    assert body[0].startswith("Net ") and "[2, 5, 3]" in body[0]
    assert body[1].startswith("├─ blocks (Sequential)")
    assert body[2].startswith("│  └─ {0..3} (Block) x4")
    assert body[3].startswith("│     ├─ attn (Linear) ")
    assert body[4].startswith("│     └─ mlp (Sequential) ")
    assert body[5].startswith("│        ├─ 0 (Linear) ")
    assert body[-1].startswith("└─ head (Linear) ")
    unused = next(line for line in body if "unused" in line)
    assert unused.split()[-3:] == ["--", "72", "--"]  # never ran: no shape, no FLOPs; its parameters
    block = next(line for line in body if "{0..3}" in line)
    per_block = sum(p.numel() for p in model.blocks[0].parameters())
    assert f"{per_block:,}" in block and "[2, 5, 8]" in block
    assert flops_text(2 * 10 * 8 * 8 + 2 * 10 * 8 * 32 * 2) in block
    expanded = tree_lines(_rows(collapse=False)[1])
    assert sum("(Block)" in line for line in expanded) == 4 and not any("{" in line for line in expanded)


def test_the_tree_fits_a_width_by_giving_columns_way_in_order() -> None:
    _, rows = _rows()
    full = tree_lines(rows)
    widest = max(map(cell_width, full))
    assert tree_lines(rows, widest) == full
    for width in (widest - 5, 48, 36, 24, 12):
        lines = tree_lines(rows, width)
        assert all(cell_width(line) <= width for line in lines), width
    assert "FLOPs" not in tree_lines(rows, 48)[0]
    assert tree_lines(rows, 48)[-1] == "(FLOPs left out to fit 48 columns)"
    assert "Output shape" not in tree_lines(rows, 36)[0] and "(Linear)" in "".join(tree_lines(rows, 36))
    narrow = tree_lines(rows, 30)
    assert "(Linear)" not in "".join(narrow) and narrow[4].startswith("│  └─ {0..3} x4 ")
    assert " ".join(narrow[-2:]) == "(FLOPs, Output shape, types left out to fit 30 columns)"


def test_without_a_forward_pass_only_parameters_are_shown() -> None:
    model = Net()
    rows = tree_rows(module_summary(build_inventory(model), 1))
    lines = tree_lines(rows)
    assert lines[0].split() == ["Module", "Params"]
    assert [line.split()[0] for line in lines[2:]] == ["Net", "├─", "├─", "└─"]


def test_names_from_user_code_are_made_printable() -> None:
    rows = [TreeRow("", "Root", 3), TreeRow("bad\x1b[31m", "Evil\nType", 3)]
    lines = tree_lines(rows)
    assert "\x1b" not in "".join(lines) and "\\x1b[31m" in lines[-1] and "Evil\\nType" in lines[-1]


def test_number_and_shape_texts() -> None:
    assert [flops_text(n) for n in (None, 0, 999, 1000, 35_127_656_448, 613_338_509_737_984)] == [
        "--",
        "0",
        "999",
        "1.00 K",
        "35.1 G",
        "613 T",
    ]
    assert shapes_text(((1, 197, 768), (1, 12))) == "[1, 197, 768], [1, 12]"
    assert shapes_text(((),)) == "[]" and shapes_text(()) == "[]" and shapes_text(None) == "--"
