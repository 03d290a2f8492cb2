"""The self-contained HTML report: totals, a zoomable treemap of the module tree, the findings
and a searchable tensor table, in one file that opens offline (every script and style inline).

A pure function of plain data (an Inventory, optionally a selection of its records, Findings,
per-module FLOPs); it returns the HTML as a string. The data travels as one JSON document in a
`<script type="application/json">` block (`<`, `>`, `&` escaped, so no string from the model can
close it) and is drawn by `assets/report.js` with d3-hierarchy's treemap layout on a canvas.
The totals, the findings and the first rows of the table are plain HTML as well, readable where
a notebook front end strips scripts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from html import escape
from importlib import resources
from typing import Any

from paraminspect.checks.rule import Finding
from paraminspect.render.formatting import count, human_bytes, only_stored, shape_text
from paraminspect.render.github import display_path
from paraminspect.render.safe import printable
from paraminspect.tensors.records import (
    BUFFER,
    PARAMETER,
    UNREGISTERED,
    Inventory,
    ModuleSummaryRow,
    TensorRecord,
)

# Rows of the tensor table written as plain HTML (what a notebook without scripts shows); the
# script replaces them with the virtualised table of every row.
STATIC_ROWS = 200

_TENSOR_HEAD = ("Name", "Kind", "Grad", "Shape", "Dtype", "Device", "Numel", "Size")
_MODULE_HEAD = ("Module", "Type", "Parameters", "%", "Trainable", "Buffers", "Size")
# Lines of render.table.totals_lines that the cards show (the rest: by dtype, by device, notes).
_CARD_LINES = ("Parameters: ", "Buffers: ", "Stored: ")
_NUMERIC = frozenset({"Numel", "Size", "Parameters", "%", "Trainable", "Buffers"})


def kind_label(r: TensorRecord) -> str:
    """The registration kind as the report's legend names it."""
    if r.kind == BUFFER and r.persistent is False:
        return "buffer (np)"
    return r.kind


def html_report(
    inventory: Inventory,
    *,
    title: str = "",
    records: Sequence[TensorRecord] | None = None,
    modules: Sequence[ModuleSummaryRow] | None = None,
    findings: Sequence[Finding] = (),
    flops: Mapping[str, int] | None = None,
    dtype: str | None = None,
    totals_lines: Sequence[str] | None = None,
    notes: Sequence[str] = (),
    fragment: bool = False,
) -> str:
    """The report as one HTML string.

    - `inventory`: the whole model (the treemap always shows all of it).
    - `records`: the rows of the tensor table (a --filter/--kind selection of the inventory's
      records, matched by name); None: every tensor.
    - `modules`: --depth rows, shown as a static module table as well.
    - `findings`: marked on their modules and listed with file:line.
    - `flops`: FLOPs per module path, inclusive of its submodules (as torch's FlopCounterMode
      counts them per module); adds a "FLOPs" size switch.
    - `dtype`: sizes in bytes as if loaded in that dtype (tensors.memory; float32, bfloat16,
      float16, int8, int4); None: as the records say.
    - `totals_lines`: the totals as text (render.table.totals_lines, and --dtype's memory lines);
      None: computed. The lines the cards at the top already say (parameters, buffers, stored)
      are left out.
    - `notes`: lines shown under the title (what the inventory could not finish, --dtype notes).
    - `fragment`: a `<div>` for a notebook cell instead of a whole document.
    """
    if dtype is not None:
        from paraminspect.tensors.memory import inventory_as, parse_dtypes

        dtype = parse_dtypes([dtype])[0]  # "bf16" -> "bfloat16"; an unknown one is a UsageError
        names = None if records is None else {r.name for r in records}
        inventory = inventory_as(inventory, dtype)
        if names is not None:
            records = [r for r in inventory.tensors if r.name in names]
    if totals_lines is None:
        from paraminspect.render.table import totals_lines as compute_lines

        totals_lines = compute_lines(inventory)
    data = report_data(inventory, title=title, records=records, findings=findings, flops=flops, dtype=dtype)
    root_id = f"pi-{uuid.uuid4().hex[:12]}" if fragment else "pi-report"
    body = _body(root_id, data, inventory, records, modules, findings, totals_lines, [*inventory.notes, *notes])
    if fragment:
        return f"{body}\n"
    return html_document([body], title or inventory.root_type)


def html_document(reports: Sequence[str], title: str) -> str:
    """A whole page holding `reports` (each `html_report(..., fragment=True)`; they share a page
    as they share a notebook): one model's report, or `check --format html` of several."""
    page_title = escape(printable(title) + " · paraminspect")
    bodies = "\n".join(r.strip() for r in reports)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{page_title}</title>\n</head>\n"
        f'<body class="pi-page">\n{bodies}\n</body>\n</html>\n'
    )


def _json_for_script(value: Any) -> str:
    """JSON that cannot end the <script> block holding it, nor open a comment in it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _interned(table: dict[str, int], value: str) -> int:
    index = table.get(value)
    if index is None:
        index = table[value] = len(table)
    return index


def _parent_index(path: str, index: Mapping[str, int]) -> int:
    """The nearest enclosing module that the tree knows (dotted prefixes; the root at last)."""
    while path:
        path = path.rpartition(".")[0]
        if path in index:
            return index[path]
    return index[""]


def report_data(
    inventory: Inventory,
    *,
    title: str = "",
    records: Sequence[TensorRecord] | None = None,
    findings: Sequence[Finding] = (),
    flops: Mapping[str, int] | None = None,
    dtype: str | None = None,
) -> dict[str, Any]:
    """The JSON document report.js draws (columnar, repeated strings interned: 50,000 tensors
    take about 1.5 MB). Every string is made printable here, as the other human outputs do."""
    paths: list[str] = []
    types: dict[str, int] = {}
    type_of: list[int] = []
    index: dict[str, int] = {}
    aliases: dict[str, str] = {}

    def add(path: str, module_type: str) -> None:
        if path not in index:
            index[path] = len(paths)
            paths.append(path)
            type_of.append(_interned(types, printable(module_type)))

    add("", inventory.root_type)
    for m in inventory.modules:
        add(m.path, m.type)
        if m.aliases:
            aliases[str(index[m.path])] = ", ".join(printable(a) for a in m.aliases)
    for r in inventory.tensors:
        add(r.module, r.module_type)
    parents = [-1] + [_parent_index(p, index) for p in paths[1:]]

    kinds: dict[str, int] = {}
    locals_: dict[str, int] = {}
    shapes: dict[str, int] = {}
    dtypes: dict[str, int] = {}
    devices: dict[str, int] = {}
    cols: dict[str, list[int]] = {key: [] for key in ("m", "n", "k", "g", "s", "d", "v", "e", "b")}
    full_names: dict[str, str] = {}
    tensor_aliases: dict[str, str] = {}
    for i, r in enumerate(inventory.tensors):
        module = r.module
        if not module:
            local = r.name
        elif r.name.startswith(module + "."):
            local = r.name[len(module) + 1 :]
        else:  # a name that does not continue its module's path: kept whole
            local = ""
            full_names[str(i)] = printable(r.name)
        if r.aliases:
            tensor_aliases[str(i)] = " = ".join(printable(a) for a in r.aliases)
        cols["m"].append(index[module])
        cols["n"].append(_interned(locals_, printable(local)))
        cols["k"].append(_interned(kinds, kind_label(r)))
        cols["g"].append(1 if r.requires_grad else 0)
        cols["s"].append(_interned(shapes, printable(shape_text(r))))
        cols["d"].append(_interned(dtypes, printable(r.dtype)))
        cols["v"].append(_interned(devices, printable(r.device)))
        cols["e"].append(-1 if r.numel is None else r.numel)
        cols["b"].append(-1 if r.nbytes is None else r.nbytes)

    selection = None
    if records is not None and len(records) != len(inventory.tensors):
        by_name = {r.name: i for i, r in enumerate(inventory.tensors)}
        selection = [by_name[r.name] for r in records if r.name in by_name]

    return {
        "title": printable(title or inventory.root_type),
        "root_type": printable(inventory.root_type),
        "checkpoint": only_stored(inventory.totals),
        "bytes_label": f"bytes as {dtype}" if dtype else "bytes",
        "modules": {"path": [printable(p) for p in paths], "parent": parents, "type": type_of},
        "module_types": list(types),
        "module_aliases": aliases,
        "tensors": cols,
        "names": list(locals_),
        "full_names": full_names,
        "aliases": tensor_aliases,
        "kinds": list(kinds),
        "shapes": list(shapes),
        "dtypes": list(dtypes),
        "devices": list(devices),
        "selection": selection,
        "findings": [_finding_data(f, index) for f in findings],
        "flops": None if flops is None else [int(flops[p]) if p in flops else -1 for p in paths],
    }


def _location(f: Finding) -> str:
    path = display_path(f.file)
    if path is None:
        return ""
    return printable(f"{path}:{f.line}" if f.line is not None else path)


def _target(f: Finding) -> str:
    if f.module and f.attribute:
        return printable(f"{f.module}.{f.attribute}")
    return printable(f.attribute or f.module or (f.names[0] if f.names else "(model)"))


def _finding_data(f: Finding, index: Mapping[str, int]) -> dict[str, Any]:
    module = index[f.module] if f.module in index else _parent_index(f.module, index)
    return {
        "code": printable(f.code),
        "severity": f.severity,
        "module": module,
        "target": _target(f),
        "message": printable(f.message),
        "location": _location(f),
    }


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str, str, str]:
    folder = resources.files("paraminspect.render") / "assets"

    def read(name: str) -> str:
        return (folder / name).read_text(encoding="utf-8")

    return read("d3-hierarchy.min.js"), read("d3-hierarchy.LICENSE"), read("report.js"), read("report.css")


def _script(root_id: str) -> str:
    """d3-hierarchy, the report's code and its start, in one classic script. d3's UMD wrapper
    is handed a private object as `globalThis` and no `define`/`module`: it neither touches a
    page's own d3 nor trips a notebook's require.js."""
    d3, licence, app, _ = _assets()
    notice = "/*! d3-hierarchy 3.1.3 (https://d3js.org/d3-hierarchy/), ISC licence:\n" + licence.strip() + "\n*/"
    return (
        "<script>\n(function () {\nvar lib = {};\n"
        f"{notice}\n(function (define, exports, module, globalThis) {{\n{d3.strip()}\n}})"
        ".call(lib, undefined, undefined, undefined, lib);\n"
        f"{app.strip()}\n"
        # Its own parent where the script runs in place (a page, JupyterLab), else by id
        # (front ends that run a copy elsewhere, such as jQuery's in the classic notebook).
        "var here = document.currentScript && document.currentScript.parentNode;\n"
        f'paraminspectReport(here && here.id === "{root_id}" ? here : document.getElementById("{root_id}"), lib.d3);\n'
        "})();\n</script>"
    )


def _cards(inventory: Inventory) -> str:
    t = inventory.totals
    if only_stored(t):
        items = [("Stored tensors", count(t.tensors)), ("Elements", count(t.stored)), ("Size", human_bytes(t.bytes))]
    else:
        param_bytes = sum(r.nbytes or 0 for r in inventory.tensors if r.kind == PARAMETER)
        items = [
            ("Parameters", count(t.parameters)),
            ("Parameter size", human_bytes(param_bytes)),
            ("Trainable", count(t.trainable)),
            ("Frozen", count(t.frozen)),
            ("Buffer elements", count(t.buffers)),
            ("Unregistered elements", count(t.unregistered)),
            ("Tensors", count(t.tensors)),
            ("Total size", human_bytes(t.bytes)),
        ]
        if t.packed:
            items.insert(6, ("Packed elements", count(t.packed)))
    alert = {"Unregistered elements"} if t.unregistered else set()
    return "".join(
        f'<div class="pi-card{" pi-alert" if label in alert else ""}"><span>{escape(label)}</span>'
        f"<b>{escape(value)}</b></div>"
        for label, value in items
    )


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], css: str) -> str:
    def cell(tag: str, column: str, text: str, first: bool) -> str:
        align = ' class="pi-num"' if column in _NUMERIC else ""
        body = f"<code>{escape(text)}</code>" if first and tag == "td" else escape(text)
        return f"<{tag}{align}>{body}</{tag}>"

    out = [f'<table class="{css}">', "<thead><tr>" + "".join(cell("th", h, h, False) for h in head) + "</tr></thead>"]
    out.append("<tbody>")
    for row in rows:
        out.append(
            "<tr>" + "".join(cell("td", h, c, i == 0) for i, (h, c) in enumerate(zip(head, row, strict=True))) + "</tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _tensor_row(r: TensorRecord) -> list[str]:
    name = " = ".join((r.name, *r.aliases)) if r.aliases else r.name
    return [
        printable(name),
        "UNREGISTERED" if r.kind == UNREGISTERED else kind_label(r),
        "yes" if r.requires_grad else "no",
        printable(shape_text(r)),
        printable(r.dtype),
        printable(r.device),
        count(r.numel),
        human_bytes(r.nbytes),
    ]


def _module_rows(modules: Sequence[ModuleSummaryRow]) -> list[list[str]]:
    return [
        [
            printable(m.path) or "(root)",
            printable(m.type),
            count(m.parameters),
            f"{100 * m.fraction:.2f}",
            count(m.trainable),
            count(m.buffers),
            human_bytes(m.bytes),
        ]
        for m in modules
    ]


def _findings_html(findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    items = []
    for f in findings:
        location = _location(f)
        where = f'<span class="pi-loc">{escape(location)}</span> ' if location else ""
        items.append(
            f'<li class="pi-finding pi-{escape(f.severity)}" data-module="{escape(printable(f.module))}">'
            f"{where}<b>{escape(printable(f.code))}</b> <i>{escape(f.severity)}</i> "
            f"<code>{escape(_target(f))}</code>: {escape(printable(f.message))}</li>"
        )
    return f'<section class="pi-findings"><h2>Findings ({len(findings)})</h2><ul>{"".join(items)}</ul></section>'


def _body(
    root_id: str,
    data: dict[str, Any],
    inventory: Inventory,
    records: Sequence[TensorRecord] | None,
    modules: Sequence[ModuleSummaryRow] | None,
    findings: Sequence[Finding],
    totals_lines: Sequence[str],
    notes: Sequence[str],
) -> str:
    rows = list(inventory.tensors if records is None else records)
    shown = rows[:STATIC_ROWS]
    static = _table(_TENSOR_HEAD, [_tensor_row(r) for r in shown], "pi-table")
    more = ""
    if len(rows) > len(shown):
        more = (
            f'<p class="pi-more">The first {count(len(shown))} of {count(len(rows))} tensors; '
            "the searchable table of all of them needs scripts (open the file in a browser, or trust the notebook).</p>"
        )
    module_table = ""
    if modules is not None:
        module_table = (
            f'<section class="pi-modules"><h2>Modules</h2>{_table(_MODULE_HEAD, _module_rows(modules), "pi-table")}'
            "</section>"
        )
    notes_html = "".join(f'<p class="pi-note">{escape(printable(n))}</p>' for n in notes)
    lines = "<br>".join(escape(line) for line in totals_lines if not line.startswith(_CARD_LINES))
    _, _, _, css = _assets()
    return (
        f'<div class="pi-report" id="{root_id}">\n'
        f"<style>{css}</style>\n"
        f'<script type="application/json" class="pi-data">{_json_for_script(data)}</script>\n'
        f'<header class="pi-head"><h1>{escape(data["title"])}</h1>{notes_html}'
        f'<div class="pi-cards">{_cards(inventory)}</div><p class="pi-lines">{lines}</p></header>\n'
        '<p class="pi-nojs">The treemap and the searchable table of every tensor need scripts: open this file in '
        "a browser (or trust the notebook). Below: the totals, the findings and the first rows.</p>\n"
        '<div class="pi-app" hidden></div>\n'
        f"{_findings_html(findings)}\n{module_table}\n"
        f'<section class="pi-tensors"><h2>Tensors</h2><div class="pi-live" hidden></div>'
        f'<div class="pi-static">{static}{more}</div></section>\n'
        f"{_script(root_id)}\n</div>"
    )
