"""`show --tree`: the module tree drawn with branch lines, one module a line, with its type,
output shapes, parameters and FLOPs in columns, fitted to a width. A pure function of plain
rows (`TreeRow`, built from the module summary and a forward pass by `tree_rows`).

Fitting, in order, until the lines fit the width: long output-shape cells are cropped (to
no less than 14 cells), then the FLOPs column is left out, then the output-shape column,
then the types; last, lines are cropped at the edge. What was left out is said below the
tree. `width=None` (piped output, a file) keeps everything whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paraminspect.forward.stats_data import ForwardStats, ModuleStats, fold_key
from paraminspect.render.fit import cell_width, crop, wrap_text
from paraminspect.render.safe import printable
from paraminspect.tensors.collapse import fold, module_key, name_parts
from paraminspect.tensors.records import ModuleSummaryRow

__all__ = ["TreeRow", "flops_text", "shapes_text", "tree_lines", "tree_rows"]

SHAPES_MIN = 14
_GAP = "  "


@dataclass(frozen=True)
class TreeRow:
    """One module line: `name` is its dotted path ("" for the root), `{a..b}` where folded;
    `count` how many modules the line stands for; None where a value is not known (no
    forward pass, a module that did not run)."""

    name: str
    type: str
    parameters: int | None = None
    output_shapes: tuple[tuple[int, ...], ...] | None = None
    flops: int | None = None
    count: int = 1


def tree_rows(
    modules: Sequence[ModuleSummaryRow],
    forward: ForwardStats | None = None,
    collapse: bool = True,
) -> list[TreeRow]:
    """The module summary's rows (`tensors.totals.module_summary`, any depth) joined with a
    forward pass's rows by name, with repeated blocks folded unless `collapse` is False."""
    by_name: dict[str, ModuleStats] = {}
    if forward is not None:
        for m in forward.modules:
            by_name[m.name] = m
            for alias in m.aliases:
                by_name.setdefault(alias, m)

    def ran(row: ModuleSummaryRow) -> ModuleStats | None:
        stats = by_name.get(row.path)
        return stats if stats is not None and stats.calls else None

    def key(row: ModuleSummaryRow) -> object:
        stats = by_name.get(row.path)
        return (module_key(row), fold_key(stats) if stats is not None else None)

    groups = fold(modules, lambda r: r.path, key) if collapse else None
    out: list[TreeRow] = []
    items = groups if groups is not None else [None] * len(modules)
    for i, group in enumerate(items):
        row = group.item if group is not None else modules[i]
        stats = ran(row)
        out.append(
            TreeRow(
                name=group.name if group is not None else row.path,
                type=row.type,
                parameters=row.parameters,
                output_shapes=stats.output_shapes if stats is not None else None,
                flops=stats.flops if stats is not None else None,
                count=group.count if group is not None else 1,
            )
        )
    return out


def flops_text(n: int | None) -> str:
    """`1.23 GFLOPs`-style, three significant digits: `0`, `512`, `35.1 G`, `613 T`."""
    if n is None:
        return "--"
    if n < 1000:
        return str(n)
    value = float(n)
    for unit in ("K", "M", "G", "T", "P", "E"):
        value /= 1000
        if value < 1000 or unit == "E":
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {unit}"
    raise AssertionError("unreachable")


def shapes_text(shapes: tuple[tuple[int, ...], ...] | None) -> str:
    if shapes is None:
        return "--"
    return ", ".join("[" + ", ".join(map(str, s)) + "]" for s in shapes) or "[]"


def _parts(name: str) -> list[str]:
    """Dotted parts, a `{0..11}` run kept whole; none for the root ("")."""
    return name_parts(name) if name else []


def _parents(rows: Sequence[TreeRow]) -> list[int | None]:
    """Each row's parent: the closest earlier row whose path its own path extends."""
    paths = [_parts(r.name) for r in rows]
    parents: list[int | None] = []
    stack: list[int] = []
    for i, path in enumerate(paths):
        while stack and not (len(paths[stack[-1]]) < len(path) and path[: len(paths[stack[-1]])] == paths[stack[-1]]):
            stack.pop()
        parents.append(stack[-1] if stack else None)
        stack.append(i)
    return parents


def _prefixes(rows: Sequence[TreeRow]) -> list[str]:
    """The branch drawing in front of each row (`├─ `, `│  └─ `)."""
    parents = _parents(rows)
    last_child: dict[int | None, int] = {}
    for i, parent in enumerate(parents):
        last_child[parent] = i
    prefixes: list[str] = []
    for i, parent in enumerate(parents):
        if parent is None:
            prefixes.append("")
            continue
        chain: list[str] = []
        ancestor = parent
        while parents[ancestor] is not None:  # the root itself draws no line
            chain.append("   " if last_child.get(parents[ancestor]) == ancestor else "│  ")
            ancestor = parents[ancestor]  # type: ignore[assignment]
        branch = "└─ " if last_child.get(parent) == i else "├─ "
        prefixes.append("".join(reversed(chain)) + branch)
    return prefixes


def _label(row: TreeRow, parent_parts: int, with_type: bool, parent_count: int) -> str:
    """`name (Type) x12`: the root by its type; the count only where this row's own
    part folds (its children repeat with it and say nothing more)."""
    parts = _parts(row.name)
    if not parts:
        text = printable(row.type) if row.type else "(root)"
    else:
        text = printable(".".join(parts[parent_parts:]))
        if with_type and row.type:
            text += f" ({printable(row.type)})"
    if row.count > 1 and row.count != parent_count:
        text += f" x{row.count}"
    return text


def tree_lines(rows: Sequence[TreeRow], width: int | None = None) -> list[str]:
    """The tree with Output shape, Params and FLOPs columns (those with any value), fitted
    to `width` cells (see the module docstring)."""
    if not rows:
        return []
    prefixes = _prefixes(rows)
    parents = _parents(rows)
    parent_depth = [len(_parts(rows[p].name)) if p is not None else 0 for p in parents]
    parent_count = [rows[p].count if p is not None else 1 for p in parents]
    shapes = [shapes_text(r.output_shapes) for r in rows]
    params = ["--" if r.parameters is None else f"{r.parameters:,}" for r in rows]
    flops = [flops_text(r.flops) for r in rows]
    show_shapes = any(r.output_shapes is not None for r in rows)
    show_flops = any(r.flops is not None for r in rows)
    with_type = True
    shapes_cap: int | None = None
    left_out: list[str] = []

    def build() -> list[str]:
        labels = [
            prefix + _label(row, depth, with_type, count)
            for prefix, row, depth, count in zip(prefixes, rows, parent_depth, parent_count, strict=True)
        ]
        columns: list[tuple[str, list[str], bool]] = [("Module", labels, False)]
        if show_shapes:
            cells = shapes if shapes_cap is None else [crop(s, shapes_cap) for s in shapes]
            columns.append(("Output shape", cells, False))
        columns.append(("Params", params, True))
        if show_flops:
            columns.append(("FLOPs", flops, True))
        return _layout(columns)

    lines = build()
    steps = ["shapes", "flops", "output", "types"]
    while width is not None and max(map(cell_width, lines)) > width and steps:
        step = steps.pop(0)
        if step == "shapes" and show_shapes:
            longest = max(map(cell_width, shapes))
            excess = max(map(cell_width, lines)) - width
            if longest > SHAPES_MIN:
                shapes_cap = max(SHAPES_MIN, longest - excess)
        elif step == "flops" and show_flops:
            show_flops = False
            left_out.append("FLOPs")
        elif step == "output" and show_shapes:
            show_shapes = False
            left_out.append("Output shape")
        elif step == "types":
            with_type = False
            left_out.append("types")
        lines = build()
    if width is not None:
        lines = [crop(line, width) for line in lines]
    if left_out:
        lines += wrap_text(f"({', '.join(left_out)} left out to fit {width} columns)", width, "")
    return lines


def _layout(columns: list[tuple[str, list[str], bool]]) -> list[str]:
    widths = [max(cell_width(header), *(cell_width(c) for c in cells)) for header, cells, _ in columns]

    def pad(text: str, size: int, right: bool) -> str:
        room = " " * (size - cell_width(text))
        return room + text if right else text + room

    header = _GAP.join(pad(h, w, r) for (h, _, r), w in zip(columns, widths, strict=True)).rstrip()
    body = [
        _GAP.join(pad(cells[i], w, r) for (_, cells, r), w in zip(columns, widths, strict=True)).rstrip()
        for i in range(len(columns[0][1]))
    ]
    rule = "─" * max(cell_width(line) for line in (header, *body))
    return [header, rule, *body]
