"""Rich tables for humans. On a terminal: colour and the terminal's width; piped or written
to a file: no colour and no width limit, so names are never cut in the middle."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.style import Style

from paraminspect.render.formatting import count, human_bytes, tensor_cells
from paraminspect.render.safe import printable
from paraminspect.tensors.records import BUFFER, UNREGISTERED, Inventory, ModuleSummaryRow, TensorRecord

# Heavy head, light body: the look of rich's default table, drawn by hand below.
_TOP, _HEAD, _SEP, _BOTTOM = ("┏", "┳", "┓", "━"), ("┃", "┃", "┃"), ("┡", "╇", "┩", "━"), ("└", "┴", "┘", "─")
_BODY = ("│", "│", "│")


def _cell_width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _cell_width(text))
    return gap + text if right else text + gap


class _Styler:
    """ANSI styling on colour terminals; identity elsewhere (pipes, files, NO_COLOR)."""

    def __init__(self, console: Console) -> None:
        self.system = console.color_system if console.is_terminal and not console.no_color else None
        self._codes: dict[str, tuple[str, str]] = {}

    def __call__(self, text: str, style: str) -> str:
        if not style or self.system is None:
            return text
        codes = self._codes.get(style)
        if codes is None:  # render once, reuse the escape codes around every cell
            before, _, after = Style.parse(style).render("\0", color_system=self.system).partition("\0")
            codes = self._codes[style] = (before, after)
        return codes[0] + text + codes[1]


def print_table(
    console: Console,
    title: str,
    headers: list[tuple[str, bool]],
    rows: list[list[str]],
    row_styles: list[dict[int, str] | None] | None = None,
    caption: str | None = None,
) -> None:
    """A boxed table in O(rows) with one format call per row: rich's Table measures every
    cell and takes about a millisecond per row, far too slow for 50,000 tensors.
    `row_styles[n]` maps column index -> rich style for that row (terminals only)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in headers]
    plain = all("".join(col).isascii() for col in columns)
    measure = len if plain else cell_len
    widths = [max(measure(h), max(map(measure, col), default=0)) for (h, _), col in zip(headers, columns, strict=True)]
    right = [r for _, r in headers]
    style = _Styler(console)

    def rule(parts: tuple[str, str, str, str]) -> str:
        left, mid, end, fill = parts
        return left + mid.join(fill * (w + 2) for w in widths) + end

    lines = [style(printable(title), "italic"), rule(_TOP)]
    head = [style(_pad(h, w, r), "bold") for (h, r), w in zip(headers, widths, strict=True)]
    lines.append("┃ " + " ┃ ".join(head) + " ┃")
    lines.append(rule(_SEP))
    if plain:
        fmt = "│ " + " │ ".join(f"{{:{'>' if r else '<'}{w}}}" for r, w in zip(right, widths, strict=True)) + " │"
        lines.extend(fmt.format(*row) for row in rows)
    else:
        lines.extend("│ " + " │ ".join(map(_pad, row, widths, right)) + " │" for row in rows)
    if row_styles is not None and style.system is not None:
        for n, styles in enumerate(row_styles):
            if styles:
                cells = [_pad(c, w, r) for c, w, r in zip(rows[n], widths, right, strict=True)]
                for i, st in styles.items():
                    cells[i] = style(cells[i], st)
                lines[4 + n] = "│ " + " │ ".join(cells) + " │"
    lines.append(rule(_BOTTOM))
    if caption:
        lines.append(style(caption, "dim"))
    console.file.write("\n".join(lines) + "\n")


_TENSOR_HEADERS = [
    ("Name", False),
    ("Kind", False),
    ("Grad", False),
    ("Shape", False),
    ("Dtype", False),
    ("Device", False),
    ("Numel", True),
    ("Size", True),
]


def print_tensor_table(console: Console, records: list[TensorRecord], title: str, caption: str | None = None) -> None:
    rows = [tensor_cells(r) for r in records]
    styles: list[dict[int, str] | None] | None = None
    if console.is_terminal:
        styles = [
            ({0: "bold red", 1: "bold red"} if r.kind == UNREGISTERED else {1: "cyan"} if r.kind == BUFFER else None)
            for r in records
        ]
    print_table(console, title, _TENSOR_HEADERS, rows, styles, caption)


def print_module_table(console: Console, rows: list[ModuleSummaryRow], title: str) -> None:
    headers = [("Module", False), ("Type", False), ("Parameters", True), ("%", True), ("Trainable", True)]
    cells = [
        [
            "  " * m.depth + (printable(m.path.rsplit(".", 1)[-1]) if m.path else "(root)"),
            printable(m.type),
            count(m.parameters),
            f"{100 * m.fraction:.2f}",
            count(m.trainable),
        ]
        for m in rows
    ]
    print_table(console, title, headers, cells)


def memory_lines(estimates: list[Any]) -> list[str]:
    """`show --dtype`: one line per dtype asked (tensors.memory.MemoryEstimate)."""
    return [
        f"As {m.dtype}: weights {human_bytes(m.weights_bytes)}   largest layer {human_bytes(m.largest_layer_bytes)}"
        f" ({m.largest_layer or '-'})   training with Adam {human_bytes(m.training_adam_bytes)}"
        f" (weights + 3 x {human_bytes(m.trainable_bytes)} trainable)"
        for m in estimates
    ]


def totals_lines(inv: Inventory) -> list[str]:
    t = inv.totals
    param_bytes = sum(r.nbytes or 0 for r in inv.tensors if r.kind == "parameter")
    lines = [
        f"Parameters: {count(t.parameters)} ({human_bytes(param_bytes)})   "
        f"trainable: {count(t.trainable)}   frozen: {count(t.frozen)}",
        f"Buffers: {count(t.buffers)}   unregistered: {count(t.unregistered)}   "
        f"tensors: {count(t.tensors)}   total size: {human_bytes(t.bytes)}",
    ]
    if t.stored:
        lines.append(f"Stored (checkpoint tensors, parameter or buffer not recorded): {count(t.stored)}")
    if t.packed:
        lines.append(f"Packed (quantized weights, unpacked as state_dict saves them): {count(t.packed)}")
    if t.uninitialized:
        lines.append(f"Uninitialized (lazy) parameters/buffers: {t.uninitialized} (no shape until the first forward)")
    for label, breakdown in (("By dtype", t.by_dtype), ("By device", t.by_device)):
        if breakdown:
            parts = (f"{printable(k)} {count(v.numel)} ({human_bytes(v.bytes)})" for k, v in breakdown.items())
            lines.append(f"{label}: " + ", ".join(parts))
    return lines


def print_show(
    console: Console,
    *,
    title: str,
    inventory: Inventory,
    records: list[TensorRecord] | None = None,
    modules: list[ModuleSummaryRow] | None = None,
    caption: str | None = None,
    memory: list[Any] | None = None,
) -> None:
    if modules is not None:
        print_module_table(console, modules, title)
    else:
        print_tensor_table(console, records or [], title, caption)
    console.file.write("\n".join(totals_lines(inventory) + memory_lines(memory or [])) + "\n")
