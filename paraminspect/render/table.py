"""Rich tables for humans. On a terminal: colour and the terminal's width; piped or written
to a file: no colour and no width limit, so names are never cut in the middle."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from paraminspect.inventory import BUFFER, UNREGISTERED, Inventory, ModuleSummaryRow, TensorRecord
from paraminspect.render.formatting import count, human_bytes, kind_text, name_text, shape_text

# Wide enough for any real tensor name; rich only uses the width a table needs.
UNLIMITED_WIDTH = 100_000


def make_console(file: IO[str], *, stderr: bool = False) -> Console:
    if file.isatty():
        return Console(file=file, stderr=stderr, highlight=False)
    return Console(file=file, width=UNLIMITED_WIDTH, no_color=True, highlight=False, soft_wrap=False)


_KIND_STYLE = {UNREGISTERED: "bold red", BUFFER: "cyan"}


def tensor_table(records: list[TensorRecord], title: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("Name", no_wrap=True, overflow="fold")
    table.add_column("Kind", no_wrap=True)
    table.add_column("Grad", no_wrap=True)
    table.add_column("Shape", no_wrap=True)
    table.add_column("Dtype", no_wrap=True)
    table.add_column("Device", no_wrap=True)
    table.add_column("Numel", justify="right", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    for r in records:
        style = _KIND_STYLE.get(r.kind, "")
        table.add_row(
            Text(name_text(r), style="bold red" if r.kind == UNREGISTERED else ""),
            Text(kind_text(r), style=style),
            "yes" if r.requires_grad else "no",
            shape_text(r),
            r.dtype,
            r.device,
            count(r.numel),
            human_bytes(r.nbytes),
        )
    return table


def module_table(rows: list[ModuleSummaryRow], title: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("Module", no_wrap=True, overflow="fold")
    table.add_column("Type", no_wrap=True)
    table.add_column("Parameters", justify="right", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)
    table.add_column("Trainable", justify="right", no_wrap=True)
    for m in rows:
        label = "  " * m.depth + (m.path.rsplit(".", 1)[-1] if m.path else "(root)")
        table.add_row(label, m.type, count(m.parameters), f"{100 * m.fraction:.2f}", count(m.trainable))
    return table


def totals_lines(inv: Inventory) -> list[str]:
    t = inv.totals
    param_bytes = sum(r.nbytes or 0 for r in inv.tensors if r.kind == "parameter")
    lines = [
        f"Parameters: {count(t.parameters)} ({human_bytes(param_bytes)})   "
        f"trainable: {count(t.trainable)}   frozen: {count(t.frozen)}",
        f"Buffers: {count(t.buffers)}   unregistered: {count(t.unregistered)}   "
        f"tensors: {count(t.tensors)}   total size: {human_bytes(t.bytes)}",
    ]
    if t.uninitialized:
        lines.append(f"Uninitialized (lazy) parameters/buffers: {t.uninitialized} (no shape until the first forward)")
    if t.by_dtype:
        lines.append(
            "By dtype: " + ", ".join(f"{k} {count(v.numel)} ({human_bytes(v.bytes)})" for k, v in t.by_dtype.items())
        )
    if t.by_device:
        lines.append(
            "By device: " + ", ".join(f"{k} {count(v.numel)} ({human_bytes(v.bytes)})" for k, v in t.by_device.items())
        )
    return lines


def print_show(
    console: Console,
    *,
    title: str,
    inventory: Inventory,
    records: list[TensorRecord] | None = None,
    modules: list[ModuleSummaryRow] | None = None,
    caption: str | None = None,
) -> None:
    if modules is not None:
        console.print(module_table(modules, title))
    else:
        table = tensor_table(records or [], title)
        if caption:
            table.caption = caption
            table.caption_justify = "left"
        console.print(table)
    for line in totals_lines(inventory):
        console.print(line, markup=False)
