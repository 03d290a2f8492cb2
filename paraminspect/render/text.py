"""CSV and Markdown renderings of `show` (plain text, no rich)."""

from __future__ import annotations

import csv
import io

from paraminspect.render.formatting import count, tensor_cells
from paraminspect.render.json import tensor_dict
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
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["module", "type", "depth", "parameters", "fraction", "trainable"])
    for m in rows:
        writer.writerow([printable(m.path), printable(m.type), m.depth, m.parameters, f"{m.fraction:.6f}", m.trainable])
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
    lines = [_md_row(["Module", "Type", "Parameters", "%", "Trainable"]), "|---|---|---:|---:|---:|"]
    for m in rows:
        lines.append(
            _md_row(
                [
                    f"`{printable(m.path or '(root)')}`",
                    printable(m.type),
                    count(m.parameters),
                    f"{100 * m.fraction:.2f}",
                    count(m.trainable),
                ]
            )
        )
    return "\n".join(lines) + "\n"
