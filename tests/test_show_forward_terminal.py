"""`show` with a forward pass, folded rows and `--tree` on a real pseudo-terminal (pexpect runs
it, pyte reads the screen), 80 and 120 columns wide: nothing wider than the terminal, one
screen line per row, and what gave way said under the table."""

from __future__ import annotations

import re

import pytest
from test_terminal import on_pty, table_rows

VIT = "vit_base_patch16_224"
INPUT = ("--input-shape", "1,3,224,224")


def header(screen) -> list[str]:
    line = next(line for line in screen.lines if line.startswith("┃"))
    return [cell.strip() for cell in line.split("┃")[1:-1]]


@pytest.mark.parametrize("columns", [80, 120])
def test_depth_table_gains_output_shape_and_flops_and_fits(columns: int):
    screen = on_pty(columns, "show", VIT, "--depth", "2", *INPUT)
    assert screen.code == 0 and screen.widest() <= columns, max(screen.lines, key=len)
    rows = table_rows(screen)
    assert len(rows) == 13  # root, 11 children, the 12 blocks as one row: one screen line each
    head = header(screen)
    assert head[:3] == ["Module", "Type", "Output shape"] and "FLOPs" in head and "Parameters" in head
    text = " ".join(screen.lines)
    assert "Left out to fit" in text and "Mode (all train)" in text  # every module in train mode
    blocks = next(row for row in rows if "x12" in row)
    assert "[1, 197, 768]" in blocks and re.search(r"│ +\d\.\d\d G │$", blocks)  # its output, its FLOPs
    if columns == 120:
        assert "Params %" in head and "Size" in head and "{0..11}  x12" in blocks
    else:
        assert "Params %" not in head and "Size" not in head  # gave way before the names were cut
    assert re.search(r"FLOPs \(forward pass on the meta device\): [0-9.]+ G = [0-9,]+", text)
    assert re.search(r"Activations: [0-9.]+ MiB \(float32\); training: what autograd saves for backward", text)


@pytest.mark.parametrize("columns", [80, 120])
def test_repeated_tensors_are_one_row_on_a_terminal(columns: int):
    screen = on_pty(columns, "show", VIT)
    assert screen.code == 0 and screen.widest() <= columns
    rows = table_rows(screen)
    names = [row.split("│")[1].strip() for row in rows]
    assert len(rows) == 152 - 11 * 12  # 12 alike blocks of 12 tensors: 12 rows instead of 144
    qkv = next(n for n in names if "qkv.weight" in n)
    assert qkv.endswith("x12")
    if columns == 120:
        assert qkv == "blocks.{0..11}.attn.qkv.weight  x12"
    assert "xN: N alike tensors in one row" in " ".join(screen.lines)


@pytest.mark.parametrize("columns", [80, 120])
def test_tree_fits_the_terminal(columns: int):
    screen = on_pty(columns, "show", VIT, "--tree", *INPUT)
    assert screen.code == 0 and screen.widest() <= columns
    tree = [line for line in screen.lines if line.startswith(("├", "│", "└", "VisionTransformer"))]
    assert tree[0].startswith("VisionTransformer") and re.search(r"\d G$", tree[0])
    block = next(line for line in tree if "{0..11}" in line)
    assert "(Block) x12" in block and "[1, 197, 768]" in block and "7,087,872" in block
    assert any("qkv (Linear)" in line and "[1, 197, 2304]" in line for line in tree)
    assert len(tree) == 276 - 11 * 22  # vit_base: 276 modules; 12 alike blocks of 22 drawn once
    narrow = on_pty(50, "show", VIT, "--tree", *INPUT)
    assert narrow.widest() <= 50 and "left out to fit 50 columns" in " ".join(narrow.lines)
