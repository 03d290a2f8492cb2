"""CSV and Markdown renderings of `show` (plain text, no rich)."""

from __future__ import annotations

import csv
import io

from paraminspect.render.formatting import count, human_bytes, tensor_cells
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
    head = ["Name", "Kind", "Grad", "Shape", "Dtype", "Device", "Numel", "Size"]
    lines = [_md_row(head), "|" + "|".join(["---"] * 3 + ["---"] * 3 + ["---:"] * 2) + "|"]
    for r in records:
        cells = tensor_cells(r)
        cells[0] = f"`{cells[0]}`"
        lines.append(_md_row(cells))
    return "\n".join(lines) + "\n"


def modules_markdown(rows: list[ModuleSummaryRow]) -> str:
    head = ["Module", "Type", "Parameters", "%", "Trainable", "Buffers", "Size"]
    lines = [_md_row(head), "|---|---|---:|---:|---:|---:|---:|"]
    for m in rows:
        cells = [
            f"`{printable(m.path or '(root)')}`",
            printable(m.type),
            count(m.parameters),
            f"{100 * m.fraction:.2f}",
        ]
        lines.append(_md_row([*cells, count(m.trainable), count(m.buffers), human_bytes(m.bytes)]))
    return "\n".join(lines) + "\n"
