"""`paraminspect.summary(model)` / `paraminspect.show(model)`: the `show` table in Python and
in notebooks. A ModelSummary is plain data (records and totals) with text, Markdown and HTML
renderings; the renderings come from paraminspect.render, which is the only place that
imports rich."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paraminspect.tensors.records import Breakdown, Inventory, ModuleSummaryRow, TensorRecord, Totals


@dataclass(frozen=True)
class ModelSummary:
    """Every tensor of a model (or those a `filter`/`kind` kept) and the model's totals.

    The totals are attributes (`parameters`, `trainable`, `frozen`, `buffers`, `bytes`...);
    `to_dict()` is `show --format json`'s document; `str()` is the text table, and notebooks
    show an HTML table (`_repr_html_`) or Markdown (`_repr_markdown_`)."""

    inventory: Inventory = field(repr=False)
    records: tuple[TensorRecord, ...] = field(repr=False)
    modules: tuple[ModuleSummaryRow, ...] | None = field(default=None, repr=False)
    title: str = ""
    _displayed: bool = field(default=False, repr=False, compare=False)

    @property
    def totals(self) -> Totals:
        return self.inventory.totals

    @property
    def model_type(self) -> str:
        return self.inventory.root_type

    @property
    def parameters(self) -> int:
        return self.totals.parameters

    @property
    def trainable(self) -> int:
        return self.totals.trainable

    @property
    def frozen(self) -> int:
        return self.totals.frozen

    @property
    def buffers(self) -> int:
        return self.totals.buffers

    @property
    def unregistered(self) -> int:
        return self.totals.unregistered

    @property
    def tensors(self) -> int:
        return self.totals.tensors

    @property
    def bytes(self) -> int:
        return self.totals.bytes

    @property
    def by_dtype(self) -> Mapping[str, Breakdown]:
        return self.totals.by_dtype

    @property
    def by_device(self) -> Mapping[str, Breakdown]:
        return self.totals.by_device

    def to_dict(self) -> dict[str, Any]:
        """The `show --format json` document (schema_version 1), without the CLI's spec."""
        import json

        from paraminspect.render.json import show_json

        doc = json.loads(
            show_json(
                spec="",
                resolved="",
                build_device="",
                inventory=self.inventory,
                records=list(self.records),
                modules=list(self.modules) if self.modules is not None else None,
            )
        )
        for key in ("model", "resolved", "build_device"):
            doc.pop(key)
        return doc

    def text(self, width: int | None = None, color: str | None = None) -> str:
        """The table as `show` prints it: `width` columns wide (None: whole names, every column)."""
        from paraminspect.render.table import show_lines

        lines = show_lines(
            title=self.title,
            inventory=self.inventory,
            records=self.records,
            modules=self.modules,
            width=width,
            color=color,
        )
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        t = self.totals
        return (
            f"<ModelSummary {self.model_type}: {t.parameters:,} parameters ({t.trainable:,} trainable), "
            f"{t.buffers:,} buffer elements, {t.tensors:,} tensors>"
        )

    def _repr_markdown_(self) -> str | None:
        if self._displayed:  # show() has displayed it already: do not print the table twice
            return None
        from paraminspect.render.formatting import only_stored
        from paraminspect.render.table import totals_lines
        from paraminspect.render.text import modules_markdown, tensors_markdown

        stored = only_stored(self.inventory.totals)
        modules = self.modules
        table = modules_markdown(list(modules), stored) if modules is not None else tensors_markdown(self.records)
        totals = "  \n".join(totals_lines(self.inventory))
        return f"**{self.title}**\n\n{table}\n{totals}\n"

    def _repr_html_(self) -> str | None:
        if self._displayed:
            return None
        from paraminspect.render.html import show_html
        from paraminspect.render.table import totals_lines

        return show_html(self.title, self.inventory, self.records, self.modules, totals_lines(self.inventory))


def summarize(
    model: Any,
    depth: int | None = None,
    filter: str | None = None,
    kind: str | None = None,
) -> ModelSummary:
    """A ModelSummary of an nn.Module (torch.compile/DDP wrappers looked through)."""
    import fnmatch

    from paraminspect.errors import UsageError
    from paraminspect.tensors.records import KINDS
    from paraminspect.tensors.totals import module_summary
    from paraminspect.tensors.walk import build_inventory
    from paraminspect.tensors.wrappers import unwrap

    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    if depth is not None and depth < 0:
        raise UsageError(f"depth must be 0 or more, got {depth}")
    module, _ = unwrap(model)
    inv = build_inventory(module)
    records: Sequence[TensorRecord] = [
        r
        for r in inv.tensors
        if (kind is None or r.kind == kind)
        and (filter is None or any(fnmatch.fnmatchcase(n, filter) for n in (r.name, *r.aliases)))
    ]
    selected = None if len(records) == len(inv.tensors) else records
    modules = tuple(module_summary(inv, depth, selected)) if depth is not None else None
    return ModelSummary(inv, tuple(records), modules, title=inv.root_type)


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    ip = getattr(shell, "get_ipython", lambda: None)()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def display(summary: ModelSummary, file: IO[str] | None = None) -> ModelSummary:
    """Print the table (fitted to the terminal when `file` is one) or, in a notebook,
    display it as HTML; the returned summary does not display itself a second time."""
    import dataclasses

    if file is None and _in_notebook():
        from IPython.display import HTML
        from IPython.display import display as ipy_display

        ipy_display(HTML(summary._repr_html_()))
    else:
        from paraminspect.render.console import make_console
        from paraminspect.render.table import print_show

        out = file or sys.stdout
        print_show(
            make_console(out),
            title=summary.title,
            inventory=summary.inventory,
            records=summary.records,
            modules=summary.modules,
        )
        out.flush()
    return dataclasses.replace(summary, _displayed=True)
