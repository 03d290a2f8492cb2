"""HTML for notebooks (`_repr_html_` of paraminspect.summary) and `--format html` of `show` and
`check`: the HTML report's view (totals, the module treemap, the searchable tensor table;
render/html_report.py). In a notebook it is a fragment for a cell; where a front end strips
scripts, its plain-HTML part still shows the totals and the first rows of the table (or the
--depth module table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import IO, Any

from paraminspect.render.html_report import html_document, html_report
from paraminspect.render.safe import printable
from paraminspect.tensors.records import Inventory, ModuleSummaryRow, TensorRecord


def show_html(
    title: str,
    inventory: Inventory,
    records: Sequence[TensorRecord],
    modules: Sequence[ModuleSummaryRow] | None,
    totals: Sequence[str],
    flops: Mapping[str, int] | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The notebook view of a summary: `records` are the table's rows (a filter/kind selection),
    `modules` the --depth rows when asked for, `totals` the totals as text lines, `flops` the
    FLOPs per module path of a forward pass (the treemap's FLOPs sizing)."""
    return html_report(
        inventory,
        title=title,
        records=records,
        modules=modules,
        totals_lines=totals,
        flops=flops,
        notes=notes,
        fragment=True,
    )


def show_totals(inventory: Inventory, memory: Any = None, forward: Any = None, training: Any = None) -> list[str]:
    """The totals lines of the table view, in the same words: the inventory's, the forward
    pass's (FLOPs, input, activations), --dtype's estimates and training memory."""
    from paraminspect.render.table import memory_lines, totals_lines

    lines = totals_lines(inventory)
    if forward is not None:
        from paraminspect.render.forward_lines import forward_lines

        lines += forward_lines(forward)
    lines += memory_lines(list(memory or []))
    if training:
        from paraminspect.render.forward_lines import training_lines

        lines += training_lines(training)
    return lines


def write_show(out: IO[str], loaded: Any) -> None:
    """`show --format html` of a commands.show.ShowResult (rendered in the model's child
    process, where the inventory still holds its module records): one self-contained page.
    The inventory arrives recast under --dtype; with a forward pass the treemap can be sized
    by FLOPs."""
    from paraminspect.render.show_table import show_title

    flops = None
    if loaded.forward is not None:
        from paraminspect.render.forward_lines import flops_by_path

        flops = flops_by_path(loaded.forward)
    out.write(
        html_report(
            loaded.inventory,
            title=show_title(loaded),
            records=list(loaded.records),
            modules=loaded.modules,
            flops=flops,
            dtype=loaded.memory[0].dtype if loaded.memory else None,  # labels "bytes as bfloat16"
            totals_lines=show_totals(loaded.inventory, loaded.memory, loaded.forward, loaded.training),
            notes=list(loaded.notes),
        )
    )


def _failed(spec: str, error: str) -> str:
    """A model that could not be checked: its section says why (there is no inventory to draw)."""
    return (
        f'<div class="pi-report pi-failed" data-model="{escape(printable(spec))}">'
        f"<h1>{escape(printable(spec))}</h1>"
        f'<p class="pi-note">could not be checked: {escape(printable(error))}</p></div>'
    )


def _findings_only(result: Any) -> str:
    from paraminspect.render.github import display_path

    items = []
    for f in result.findings:
        path = display_path(f.file)
        where = f"{path}:{f.line}: " if path and f.line is not None else f"{path}: " if path else ""
        items.append(
            f'<li class="pi-finding pi-{escape(f.severity)}">{escape(printable(where))}<b>{escape(printable(f.code))}'
            f"</b> {escape(f.severity)}: {escape(printable(f.message))}</li>"
        )
    return (
        f'<div class="pi-report pi-unbuilt" data-model="{escape(printable(result.spec))}">'
        f"<h1>{escape(printable(result.spec))}</h1><ul>{''.join(items)}</ul></div>"
    )


def write_check(out: IO[str], report: Any) -> None:
    """`check --format html` of a commands.check.CheckReport: each model's report (its
    inventory as a treemap, its findings marked on their modules and listed with file:line),
    several models on one page; a model that failed says why, skipped ones are listed."""
    from paraminspect.wording import plural

    fragments = []
    for result in report.results:
        inventory = getattr(result, "inventory", None)
        if result.error is not None:
            fragments.append(_failed(result.spec, result.error))
            continue
        if inventory is None:  # findings of a pass that built no model (a static pass): listed only
            fragments.append(_findings_only(result))
            continue
        fragments.append(_check_report(result, fragment=True))
    skipped = list(report.skipped)
    if skipped:
        items = "".join(
            f"<li><code>{escape(printable(s.model))}</code>: {escape(printable(s.reason))}</li>" for s in skipped
        )
        fragments.append(f'<section class="pi-skipped"><h2>Skipped ({len(skipped)})</h2><ul>{items}</ul></section>')
    findings = sum(len(r.findings) for r in report.results)
    title = f"paraminspect check: {plural(len(report.results), 'model')}, {plural(findings, 'finding')}"
    if len(fragments) == 1 and report.results and getattr(report.results[0], "inventory", None) is not None:
        out.write(_check_report(report.results[0], fragment=False))  # one model: its own page
        return
    out.write(html_document(fragments, title))


def _check_report(result: Any, fragment: bool) -> str:
    title = result.spec
    if result.resolved and result.resolved != result.spec:
        title = f"{result.spec} -> {result.resolved}"
    return html_report(
        result.inventory, title=title, findings=result.findings, notes=list(result.notes), fragment=fragment
    )
