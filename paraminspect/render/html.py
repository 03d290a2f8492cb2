"""HTML for notebooks (`_repr_html_` of paraminspect.summary): the tensor or module table
and the totals, as plain escaped HTML (no rich, no scripts, no styles beyond alignment)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from paraminspect.render.formatting import count, human_bytes, tensor_cells
from paraminspect.tensors.records import Inventory, ModuleSummaryRow, TensorRecord

_TENSOR_HEAD = ["Name", "Kind", "Grad", "Shape", "Dtype", "Device", "Numel", "Size"]
_MODULE_HEAD = ["Module", "Type", "Parameters", "%", "Trainable", "Buffers", "Size"]
_RIGHT = {"Numel", "Size", "Parameters", "%", "Trainable", "Buffers"}


def _table(head: list[str], rows: Sequence[list[str]], code_first: bool) -> str:
    def cell(tag: str, name: str, text: str, first: bool) -> str:
        align = ' style="text-align:right"' if name in _RIGHT else ' style="text-align:left"'
        body = f"<code>{escape(text)}</code>" if first and code_first and tag == "td" else escape(text)
        return f"<{tag}{align}>{body}</{tag}>"

    out = ["<table>", "<thead><tr>" + "".join(cell("th", h, h, False) for h in head) + "</tr></thead>", "<tbody>"]
    for row in rows:
        out.append(
            "<tr>" + "".join(cell("td", h, c, i == 0) for i, (h, c) in enumerate(zip(head, row, strict=True))) + "</tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def show_html(
    title: str,
    inventory: Inventory,
    records: Sequence[TensorRecord],
    modules: Sequence[ModuleSummaryRow] | None,
    totals: Sequence[str],
) -> str:
    if modules is not None:
        rows = [
            [
                m.path or "(root)",
                m.type,
                count(m.parameters),
                f"{100 * m.fraction:.2f}",
                count(m.trainable),
                count(m.buffers),
                human_bytes(m.bytes),
            ]
            for m in modules
        ]
        table = _table(_MODULE_HEAD, rows, True)
    else:
        table = _table(_TENSOR_HEAD, [tensor_cells(r) for r in records], True)
    foot = "<br>\n".join(escape(line) for line in totals)
    return f"<div><p><b>{escape(title)}</b></p>\n{table}\n<p>{foot}</p></div>"
