"""`show`'s tables for humans, drawn by hand in O(rows). Pure functions of the records and a
width: `width=None` (piped, a file) keeps every column and whole names; a terminal's width
makes the table fit it (see `fit_columns` for the order in which columns give way)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.style import Style

from paraminspect.forward.stats_data import ForwardStats
from paraminspect.render.fit import cell_width, crop, shorten_middle, wrap_items, wrap_text
from paraminspect.render.formatting import (
    all_stored,
    count,
    human_bytes,
    kind_text,
    name_text,
    only_stored,
    plural,
    shape_text,
)
from paraminspect.render.safe import printable
from paraminspect.tensors.collapse import Folded
from paraminspect.tensors.records import (
    BUFFER,
    PARAMETER,
    UNREGISTERED,
    Inventory,
    ModuleSummaryRow,
    TensorRecord,
)

# Heavy head, light body: the look of rich's default table, drawn by hand below.
_TOP, _SEP, _BOTTOM = ("┏", "┳", "┓", "━"), ("┡", "╇", "┩", "━"), ("└", "┴", "┘", "─")
# A model with more tensors than this gets its totals before the table, not only after it.
HEADER_FIRST_ABOVE = 300
# Names are shortened no further than this while other columns can still give way.
NAME_MIN = 16


class Styler:
    """ANSI styling for a colour system (`None`: pipes, files, NO_COLOR -> plain text)."""

    def __init__(self, system: str | None) -> None:
        self.system = system
        self._codes: dict[str, tuple[str, str]] = {}

    def __call__(self, text: str, style: str) -> str:
        if not style or self.system is None:
            return text
        codes = self._codes.get(style)
        if codes is None:  # render once, reuse the escape codes around every cell
            before, _, after = Style.parse(style).render("\0", color_system=self.system).partition("\0")  # type: ignore[arg-type]
            codes = self._codes[style] = (before, after)
        return codes[0] + text + codes[1]


@dataclass
class Column:
    key: str
    header: str
    right: bool
    cells: list[str]
    width: int = 0
    plain: bool = True  # every cell is as many cells wide as it has characters

    def measure(self) -> None:
        cells = self.cells
        self.plain = "".join(cells).isascii()
        measure = len if self.plain else cell_len
        self.width = max(measure(self.header), max(map(measure, cells), default=0))


def table_width(columns: Sequence[Column]) -> int:
    return sum(c.width for c in columns) + 3 * len(columns) + 1


# A step that may make a table narrower: returns the note to print when it did something.
Step = Callable[[list[Column], int], "str | None"]


def fit_columns(columns: list[Column], width: int | None, steps: Sequence[Step]) -> list[str]:
    """Apply `steps` in order until the table is at most `width` cells wide; returns the
    notes of the steps that changed something. `width=None` changes nothing."""
    for c in columns:
        c.measure()
    notes: list[str] = []
    if width is None:
        return notes
    for step in steps:
        if table_width(columns) <= width:
            break
        note = step(columns, width)
        if note:
            notes.append(note)
    return notes


def _find(columns: list[Column], key: str) -> Column | None:
    return next((c for c in columns if c.key == key), None)


def drop(key: str, when: Callable[[Column], bool] = lambda c: True, why: str = "") -> Step:
    def step(columns: list[Column], width: int) -> str | None:
        col = _find(columns, key)
        if col is None or not when(col):
            return None
        columns.remove(col)
        return f"{col.header}{why}"

    return step


def uniform(col: Column) -> bool:
    return len(set(col.cells)) <= 1


def _cutting(key: str, floor: int, cut: Callable[[Column, int], None]) -> Step:
    """A step that cuts the column's cells (`cut(col, target)`) to what the other columns
    leave, at least `floor` cells; nothing when they already fit."""

    def step(columns: list[Column], width: int) -> str | None:
        col = _find(columns, key)
        if col is None:
            return None
        target = max(floor, cell_len(col.header), col.width - (table_width(columns) - width))
        if target < col.width:
            cut(col, target)
        return None  # the `…` in the cells says it

    return step


def shorten(key: str, floor: int, suffixes: Sequence[str] | None = None) -> Step:
    """Cut the column's cells in the middle, to what the other columns leave (at least
    `floor` cells). `suffixes[n]` (a folded row's `  x12`) ends cell n and is kept whole."""

    def cut(col: Column, target: int) -> None:
        if suffixes is None:
            col.cells = [shorten_middle(c, target) for c in col.cells]  # `…` is one cell: plain stays plain
        else:
            col.cells = [
                _shorten_folded(c[: len(c) - len(tail)], max(1, target - cell_width(tail))) + tail
                for c, tail in zip(col.cells, suffixes, strict=True)
            ]
        col.width = max(max(map(cell_width, col.cells), default=0), cell_len(col.header))

    return _cutting(key, floor, cut)


_RUN = re.compile(r"\{\d+\.\.\d+\}")  # a folded run's label, `{0..11}`


def _shorten_folded(text: str, width: int) -> str:
    """shorten_middle, with a run label `{0..11}` kept as one name part (its dots are not
    places to cut)."""
    if "{" not in text:
        return shorten_middle(text, width)
    masked = _RUN.sub(lambda m: m.group(0).replace(".", "\0"), text)
    return shorten_middle(masked, width).replace("\0", ".")


def crop_cells(key: str, floor: int) -> Step:
    """Cut the column's cells at their right end (`[1, 64, 112, 1…`), to what the other
    columns leave (at least `floor` cells)."""

    def cut(col: Column, target: int) -> None:
        col.cells = [crop(c, target) for c in col.cells]
        col.width = target

    return _cutting(key, floor, cut)


def replace_cells(key: str, cells: list[str]) -> Step:
    def step(columns: list[Column], width: int) -> str | None:
        col = _find(columns, key)
        if col is not None:
            col.cells = cells
            col.measure()
        return None

    return step


def _pad(text: str, width: int, right: bool, plain: bool = False) -> str:
    gap = " " * (width - (len(text) if plain or text.isascii() else cell_len(text)))
    return gap + text if right else text + gap


def table_lines(
    columns: list[Column],
    style: Styler,
    row_styles: list[dict[str, str] | None] | None = None,
    width: int | None = None,
) -> list[str]:
    """The boxed table, one format call per row: rich's Table measures every cell and takes
    about a millisecond per row, far too slow for 50,000 tensors. `row_styles[n]` maps a
    column key to a rich style for that row. Rows wider than `width` are cropped (only when
    every step of fit_columns could not make it fit)."""
    widths = [c.width for c in columns]
    rows = list(zip(*(c.cells for c in columns), strict=True))

    def rule(parts: tuple[str, str, str, str]) -> str:
        left, mid, end, fill = parts
        return left + mid.join(fill * (w + 2) for w in widths) + end

    too_wide = width is not None and table_width(columns) > width
    if too_wide:  # cropped lines are plain: a cut through an escape code would garble the terminal
        style = Styler(None)
    head = [style(_pad(c.header, c.width, c.right), "bold") for c in columns]
    lines = [rule(_TOP), "┃ " + " ┃ ".join(head) + " ┃", rule(_SEP)]
    if all(c.plain for c in columns):
        fmt = "│ " + " │ ".join(f"{{:{'>' if c.right else '<'}{c.width}}}" for c in columns) + " │"
        lines.extend(fmt.format(*row) for row in rows)
    else:
        rights = [c.right for c in columns]
        lines.extend("│ " + " │ ".join(map(_pad, row, widths, rights)) + " │" for row in rows)
    lines.append(rule(_BOTTOM))
    if too_wide:
        lines = [crop(line, width) for line in lines]  # type: ignore[arg-type]
    if row_styles is not None and style.system is not None:
        index = {c.key: i for i, c in enumerate(columns)}
        for n, styles in enumerate(row_styles):
            if styles:
                cells = [_pad(c, w, col.right, col.plain) for c, w, col in zip(rows[n], widths, columns, strict=True)]
                for key, st in styles.items():
                    if key in index:
                        cells[index[key]] = style(cells[index[key]], st)
                lines[3 + n] = "│ " + " │ ".join(cells) + " │"
    return lines


def _compact_shape(r: TensorRecord) -> str:
    if r.shape is None or r.uninitialized:
        return shape_text(r)
    return "x".join(map(str, r.shape)) if r.shape else "()"


def _grad_implied(records: Sequence[TensorRecord]) -> bool:
    """Every parameter requires grad and nothing else does: the Kind column says it all."""
    return all(r.requires_grad == (r.kind == PARAMETER) for r in records)


def tensor_table(
    records: Sequence[TensorRecord],
    width: int | None,
    style: Styler,
    folded: Sequence[Folded[TensorRecord]] | None = None,
) -> tuple[list[str], list[str]]:
    """The per-tensor table and the notes on what was left out to fit `width`. Columns give
    way in this order: Numel (Size says it), Device when every tensor is on one device,
    shapes written 64x3x7x7, Grad when it only repeats the kind, names shortened in the
    middle (down to 16 cells), Dtype when there is only one, names down to 8 cells.
    `folded` (tensors.collapse.fold of `records`): one row per group, `blocks.{0..11}.w  x12`."""
    names = [name_text(r) for r in records]
    suffixes = None
    if folded is not None:
        records = [g.item for g in folded]
        names = [printable(g.name) if g.folded else name_text(g.item) for g in folded]
        suffixes = [f"  x{g.count}" if g.folded else "" for g in folded]
        names = [name + tail for name, tail in zip(names, suffixes, strict=True)]
    stored = all_stored(list(records))  # a file records no grad
    columns = [
        Column("name", "Name", False, names),
        Column("kind", "Kind", False, [kind_text(r) for r in records]),
        Column("shape", "Shape", False, [shape_text(r) for r in records]),
        Column("dtype", "Dtype", False, [printable(r.dtype) for r in records]),
        Column("device", "Device", False, [printable(r.device) for r in records]),
        Column("numel", "Numel", True, [count(r.numel) for r in records]),
        Column("size", "Size", True, [human_bytes(r.nbytes) for r in records]),
    ]
    if not stored:
        columns.insert(2, Column("grad", "Grad", False, ["yes" if r.requires_grad else "no" for r in records]))
    steps = [
        drop("numel"),
        drop("device", uniform, f" (all on {records[0].device})" if records else ""),
        replace_cells("shape", [_compact_shape(r) for r in records]),
        drop("grad", lambda c: _grad_implied(records), " (parameters trainable, nothing else)"),
        shorten("name", NAME_MIN, suffixes),
        drop("dtype", uniform, f" (all {records[0].dtype})" if records else ""),
        shorten("name", 8, suffixes),
    ]
    notes = fit_columns(columns, width, steps)
    row_styles = None
    if style.system is not None:
        row_styles = [
            {"name": "bold red", "kind": "bold red"}
            if r.kind == UNREGISTERED
            else {"kind": "cyan"}
            if r.kind == BUFFER
            else None
            for r in records
        ]
    return table_lines(columns, style, row_styles, width), notes


def _last_part(path: str) -> str:
    """A module path's own name: `attn` of `blocks.{0..11}.attn`, `{0..11}` of `blocks.{0..11}`."""
    parts = _PARTS.split(path)
    return parts[-1]


_PARTS = re.compile(r"\.(?![^{]*\})")  # a dot outside `{a..b}`
SHAPES_MIN = 14  # output shapes are cropped no shorter than this while other columns can give way


def module_table(
    rows: Sequence[ModuleSummaryRow],
    width: int | None,
    style: Styler,
    stored: bool = False,
    forward: ForwardStats | None = None,
    folded: Sequence[Folded[ModuleSummaryRow]] | None = None,
) -> tuple[list[str], list[str]]:
    """Per-module totals; with a forward pass, each module's Output shape, FLOPs and Mode.
    `stored` (a checkpoint's name prefixes): a Stored column of elements instead of
    Parameters, and no Trainable or Buffers, which a file does not record. `folded`
    (tensors.collapse.fold of `rows`): one row per group, `{0..11}  x12`, with each one's
    numbers.

    Columns give way in this order: Mode when every module has the same, Trainable when it
    equals Parameters everywhere, Buffers when there are none, Output shape cropped (down to
    14 cells), Params %, Mode, Type shortened in the middle (to 12 cells), Size (with a
    forward pass), Module names shortened (to 12 cells), Type to 6, then Size, Output shape
    and FLOPs are left out. Without a forward pass the first, fourth and sixth steps have
    nothing to do: the order is the one of `show --depth` before forward columns existed."""
    paths = [m.path for m in rows]
    counts = [1] * len(rows)
    if folded is not None:
        rows = [g.item for g in folded]
        paths = [g.name for g in folded]
        counts = [g.count for g in folded]
    suffixes = [f"  x{n}" if n > 1 else "" for n in counts]
    labels = [
        "  " * m.depth + (printable(_last_part(path)) if path else "(root)") + tail
        for m, path, tail in zip(rows, paths, suffixes, strict=True)
    ]
    columns = [
        Column("module", "Module", False, labels),
        Column("type", "Type", False, [printable(m.type) for m in rows]),
        Column("parameters", "Stored" if stored else "Parameters", True, [count(m.parameters) for m in rows]),
        Column("percent", "Params %", True, [f"{100 * m.fraction:.2f}" for m in rows]),
        Column("trainable", "Trainable", True, [count(m.trainable) for m in rows]),
        Column("buffers", "Buffers", True, [count(m.buffers) for m in rows]),
        Column("size", "Size", True, [human_bytes(m.bytes) for m in rows]),
    ]
    if stored:
        columns = [c for c in columns if c.key not in ("trainable", "buffers")]
    if forward is not None:
        from paraminspect.render.forward_lines import by_path, module_cells

        lookup = by_path(forward)
        cells = [module_cells(lookup.get(m.path)) for m in rows]
        columns.insert(2, Column("output", "Output shape", False, [c[0] for c in cells]))
        columns.append(Column("flops", "FLOPs", True, [c[1] for c in cells]))
        columns.append(Column("mode", "Mode", False, [c[2] for c in cells]))
    modes = {c[2] for c in cells} if forward is not None else set()
    steps = [
        drop("mode", uniform, f" (all {next(iter(modes))})" if len(modes) == 1 else ""),
        drop("trainable", lambda c: all(m.trainable == m.parameters for m in rows), " (all trainable)"),
        drop("buffers", lambda c: not any(m.buffers for m in rows), " (no buffers)"),
        crop_cells("output", SHAPES_MIN),
        drop("percent"),
        drop("mode"),
        shorten("type", 12),
        # with a forward pass, Size (the parameters' bytes, mostly) goes before names are cut
        *([drop("size")] if forward is not None else []),
        shorten("module", 12, suffixes),
        shorten("type", 6),
        drop("size"),
        drop("output"),
        drop("flops"),
    ]
    notes = fit_columns(columns, width, steps)
    return table_lines(columns, style, None, width), notes


def memory_lines(estimates: list[Any], width: int | None = None) -> list[str]:
    """`show --dtype`: one line per dtype asked (tensors.memory.MemoryEstimate), broken
    between its items to fit `width`. Training with Adam only for floating dtypes: an
    integer (quantized) model is not trained in its own dtype, so its optimizer states
    would not be int4/int8 either."""
    from paraminspect.tensors.memory import is_floating

    lines = []
    for m in estimates:
        items = [f"weights {human_bytes(m.weights_bytes)}"]
        items.append(f"largest layer {human_bytes(m.largest_layer_bytes)} ({m.largest_layer or '-'})")
        if is_floating(m.dtype):
            items.append(
                f"training with Adam {human_bytes(m.training_adam_bytes)}"
                f" (weights + 3 x {human_bytes(m.trainable_bytes)} trainable, states in {m.dtype})"
            )
        else:
            items.append("training: not estimated (integer weights are not trained; ask a float --dtype)")
        lines.extend(wrap_text(f"As {m.dtype}: " + "   ".join(items), width, "", hanging="    "))
    return lines


def totals_lines(inv: Inventory, width: int | None = None) -> list[str]:
    """The model's totals; for a checkpoint only what a file records (tensors, dtypes,
    sizes), never parameters or gradients it cannot know about."""
    t = inv.totals
    lines: list[str] = []
    if only_stored(t):
        items = [plural(t.tensors, "tensor"), f"{count(t.stored)} elements", human_bytes(t.bytes)]
        lines.extend(wrap_items("Stored: ", items, width))
    else:
        param_bytes = sum(r.nbytes or 0 for r in inv.tensors if r.kind == PARAMETER)
        items = [f"{count(t.parameters)} ({human_bytes(param_bytes)})", f"trainable: {count(t.trainable)}"]
        lines.extend(wrap_items("Parameters: ", [*items, f"frozen: {count(t.frozen)}"], width, "   "))
        items = [f"unregistered: {count(t.unregistered)}", f"tensors: {count(t.tensors)}"]
        items = [count(t.buffers), *items, f"total size: {human_bytes(t.bytes)}"]
        lines.extend(wrap_items("Buffers: ", items, width, "   "))
        if t.stored:
            lines.append(f"Stored (checkpoint tensors, parameter or buffer not recorded): {count(t.stored)}")
    if t.packed:
        lines.append(f"Packed (quantized weights, unpacked as state_dict saves them): {count(t.packed)}")
    if t.uninitialized:
        lines.append(f"Uninitialized (lazy) parameters/buffers: {t.uninitialized} (no shape until the first forward)")
    for label, table in (("By dtype: ", t.by_dtype), ("By device: ", t.by_device)):
        if table:
            items = [f"{printable(k)} {count(v.numel)} ({human_bytes(v.bytes)})" for k, v in table.items()]
            lines.extend(wrap_items(label, items, width))
    return lines


def show_lines(
    *,
    title: str,
    inventory: Inventory,
    records: Sequence[TensorRecord] | None = None,
    modules: Sequence[ModuleSummaryRow] | None = None,
    width: int | None = None,
    color: str | None = None,
    forward: ForwardStats | None = None,
    collapse: bool = False,
    tree: Sequence[ModuleSummaryRow] | None = None,
    memory: Sequence[Any] | None = None,
    training: Sequence[Any] | None = None,
    height: int | None = None,
) -> list[str]:
    """Everything `show` prints for humans. Big models get their totals first, so that
    they need not be read bottom-up, and again at the end when the whole is taller than
    the terminal (`height`, None when piped), where the eye lands when it stops scrolling;
    --filter/--kind say how many tensors they kept.
    `forward`: a forward pass's columns and totals; `collapse`: repeated blocks folded into
    one row; `tree`: the module rows drawn as a tree (render/tree.py) instead of a table;
    `memory`/`training`: --dtype's estimates (tensors.memory, forward.training_memory)."""
    from paraminspect.tensors.collapse import fold, module_key, structure_keys, tensor_key

    style = Styler(color)
    records = list(records if records is not None else inventory.tensors)
    folded_rows = False
    if tree is not None:
        from paraminspect.render.tree import tree_lines, tree_rows

        table, notes = tree_lines(tree_rows(tree, forward, collapse=collapse), width), []
    elif modules is not None:
        groups = None
        if collapse:
            from paraminspect.forward.stats_data import fold_key
            from paraminspect.render.forward_lines import by_path

            structure = structure_keys(records)
            lookup = by_path(forward) if forward is not None else {}

            def key(row: ModuleSummaryRow) -> object:
                stats = lookup.get(row.path)
                return (module_key(row, structure), fold_key(stats) if stats is not None else None)

            groups = fold(modules, lambda r: r.path, key)
            folded_rows = any(g.folded for g in groups)
        table, notes = module_table(
            modules, width, style, stored=only_stored(inventory.totals), forward=forward, folded=groups
        )
    else:
        tensor_groups = fold(records, lambda r: r.name, tensor_key) if collapse else None
        folded_rows = tensor_groups is not None and any(g.folded for g in tensor_groups)
        table, notes = tensor_table(records, width, style, tensor_groups if folded_rows else None)
    totals = totals_lines(inventory, width)
    if forward is not None:
        from paraminspect.render.forward_lines import forward_lines

        totals += forward_lines(forward, width)
    captions: list[str] = []
    if len(records) != len(inventory.tensors):
        verb = "counted" if modules is not None or tree is not None else "shown"
        captions.append(f"{len(records)} of {plural(len(inventory.tensors), 'tensor')} {verb} (--filter/--kind)")
    if modules is None and tree is None and any(r.persistent is False for r in records):
        captions.append("np = non-persistent buffer (not in state_dict)")
    if folded_rows:
        what = "modules" if modules is not None else "tensors"
        captions.append(f"xN: N alike {what} in one row, with each one's numbers (--no-collapse lists them)")
    if forward is not None and modules is not None and any(not m.calls for m in forward.modules):
        captions.append("--: the module did not run in the forward pass")
    if notes:
        captions.append(f"Left out to fit {width} columns: {'; '.join(notes)}; piped output has every column")
    caption_lines = [line for c in captions for line in _wrap_words(c, width)]
    head = [style(line, "italic") for line in wrap_items("", printable(title).split(" · "), width, " · ")]
    extra = memory_lines(list(memory or []), width)
    if training:
        from paraminspect.render.forward_lines import training_lines

        extra += training_lines(training, width)
    if len(inventory.tensors) > HEADER_FIRST_ABOVE:
        lines = [*head, *totals, *extra, "", *table, *(style(c, "dim") for c in caption_lines)]
        if height is not None and len(lines) > height:
            lines += ["", *totals, *extra]
        return lines
    return [*head, *table, *(style(c, "dim") for c in caption_lines), *totals, *extra]


def _wrap_words(text: str, width: int | None) -> list[str]:
    if width is None or len(text) <= width:
        return [text]
    import textwrap

    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [text]


def terminal_width(console: Console) -> int | None:
    """The width to fit on a terminal; None (no limit) when piped or written to a file."""
    return console.width if console.is_terminal else None


def color_system(console: Console) -> str | None:
    return console.color_system if console.is_terminal and not console.no_color else None


def print_show(
    console: Console,
    *,
    title: str,
    inventory: Inventory,
    records: Sequence[TensorRecord] | None = None,
    modules: Sequence[ModuleSummaryRow] | None = None,
    memory: list[Any] | None = None,
    forward: ForwardStats | None = None,
    collapse: bool = False,
    tree: Sequence[ModuleSummaryRow] | None = None,
    training: Sequence[Any] | None = None,
) -> None:
    lines = show_lines(
        title=title,
        inventory=inventory,
        records=records,
        modules=modules,
        width=terminal_width(console),
        color=color_system(console),
        forward=forward,
        collapse=collapse,
        tree=tree,
        memory=memory,
        training=training,
        height=console.height if console.is_terminal else None,
    )
    console.file.write("\n".join(lines) + "\n")
