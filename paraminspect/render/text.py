"""CSV and Markdown renderings of `show` (plain text, no rich)."""

from __future__ import annotations

import csv
import io
from typing import IO, Any

from paraminspect.render.formatting import all_stored, count, human_bytes, tensor_cells
from paraminspect.render.json import MODULE_FIELDS, module_dict, tensor_dict
from paraminspect.render.safe import printable
from paraminspect.tensors.records import ModuleSummaryRow, TensorRecord

CSV_FIELDS = [
    "name",
    "kind",
    "persistent",
    "requires_grad",
    "shape",
    "dtype",
    "device",
    "numel",
    "bytes",
    "module",
    "module_type",
    "aliases",
]


def tensors_csv(records: list[TensorRecord]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in records:
        row = tensor_dict(r)
        row["shape"] = "x".join(str(s) for s in r.shape) if r.shape is not None else ""
        row["aliases"] = ";".join(r.aliases)
        writer.writerow({k: "" if v is None else printable(v) if isinstance(v, str) else v for k, v in row.items()})
    return out.getvalue()


def modules_csv(rows: list[ModuleSummaryRow]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=MODULE_FIELDS, lineterminator="\n")
    writer.writeheader()
    for m in rows:
        writer.writerow({k: printable(v) if isinstance(v, str) else v for k, v in module_dict(m).items()})
    return out.getvalue()


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def tensors_markdown(records: list[TensorRecord]) -> str:
    """A GitHub table; a checkpoint's (stored tensors only) has no Grad column: a file does
    not record it."""
    grad = not all_stored(records)
    head = ["Name", "Kind", "Grad", "Shape", "Dtype", "Device", "Numel", "Size"]
    align = ["---"] * 6 + ["---:"] * 2
    if not grad:
        del head[2], align[2]
    lines = [_md_row(head), "|" + "|".join(align) + "|"]
    for r in records:
        cells = tensor_cells(r)
        cells[0] = f"`{cells[0]}`"
        if not grad:
            del cells[2]
        lines.append(_md_row(cells))
    return "\n".join(lines) + "\n"


def modules_markdown(rows: list[ModuleSummaryRow], stored: bool = False) -> str:
    """Per-module totals; `stored` (a checkpoint): Stored elements, no Trainable/Buffers."""
    head = ["Module", "Type", "Stored" if stored else "Parameters", "%", "Trainable", "Buffers", "Size"]
    if stored:
        head = [h for h in head if h not in ("Trainable", "Buffers")]
    lines = [_md_row(head), "|---|---|" + "---:|" * (len(head) - 2)]
    for m in rows:
        cells = [
            f"`{printable(m.path or '(root)')}`",
            printable(m.type),
            count(m.parameters),
            f"{100 * m.fraction:.2f}",
        ]
        middle = [] if stored else [count(m.trainable), count(m.buffers)]
        lines.append(_md_row([*cells, *middle, human_bytes(m.bytes)]))
    return "\n".join(lines) + "\n"


def write_csv(out: IO[str], loaded: Any) -> None:
    """`show --format csv`: the module rows under --depth, else the tensor rows."""
    out.write(modules_csv(loaded.modules) if loaded.modules is not None else tensors_csv(list(loaded.records)))


SIZE_UNITS_NOTE = "Sizes in binary units: 1 KiB = 1,024 bytes, 1 MiB = 2^20 bytes, 1 GiB = 2^30 bytes."


def _code(text: str) -> str:
    """`text` as inline code (its own backticks dropped: it is a name, not code to copy)."""
    return f"`{printable(text).replace('`', '')}`"


def markdown_title(loaded: Any) -> str:
    """The Markdown title: spec -> resolved · RootType · built on meta, each name as inline
    code, so that `_` and `*` in them stay as written."""
    resolved = f" -> {_code(loaded.resolved)}" if loaded.resolved != loaded.spec else ""
    built = "read from the file" if loaded.source == "checkpoint" else f"built on {loaded.build_device}"
    return f"### {_code(loaded.spec)}{resolved} · {_code(loaded.inventory.root_type)} · {built}"


def write_markdown(out: IO[str], loaded: Any) -> None:
    """`show --format markdown`: a title, the module rows under --depth (else the tensor
    rows), the totals as a list, and what the size units are."""
    from paraminspect.render.formatting import only_stored
    from paraminspect.render.table import memory_lines, totals_lines

    out.write(markdown_title(loaded) + "\n\n")
    if loaded.modules is not None:
        out.write(modules_markdown(loaded.modules, only_stored(loaded.inventory.totals)))
    else:
        out.write(tensors_markdown(list(loaded.records)))
    totals = [*totals_lines(loaded.inventory), *memory_lines(list(loaded.memory or []))]
    out.write("\n" + "".join(f"- {_md_text(line)}\n" for line in totals))
    out.write(f"\n{SIZE_UNITS_NOTE}\n")


def _md_text(line: str) -> str:
    """A plain line as Markdown text: runs of spaces (column gaps) become ` · `, and the
    characters Markdown would read as emphasis are escaped."""
    import re

    text = re.sub(r" {2,}", " · ", line.strip())
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)
