"""HTML for notebooks (`_repr_html_` of paraminspect.summary): the HTML report's view (totals,
the module treemap, the searchable tensor table; render/html_report.py) as a fragment for a
notebook cell. Where a front end strips scripts, its plain-HTML part still shows the totals and
the first rows of the table (or the --depth module table)."""

from __future__ import annotations

from collections.abc import Sequence

from paraminspect.render.html_report import html_report
from paraminspect.tensors.records import Inventory, ModuleSummaryRow, TensorRecord


def show_html(
    title: str,
    inventory: Inventory,
    records: Sequence[TensorRecord],
    modules: Sequence[ModuleSummaryRow] | None,
    totals: Sequence[str],
) -> str:
    """The notebook view of a summary: `records` are the table's rows (a filter/kind selection),
    `modules` the --depth rows when asked for, `totals` the totals as text lines."""
    return html_report(
        inventory,
        title=title,
        records=records,
        modules=modules,
        totals_lines=totals,
        fragment=True,
    )
