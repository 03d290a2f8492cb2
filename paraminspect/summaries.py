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
    from paraminspect.forward.stats_data import ForwardStats
    from paraminspect.forward.training_memory import TrainingMemory
    from paraminspect.tensors.memory import MemoryEstimate
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
    # One forward pass on an example input (forward.stats_data.ForwardStats): output shapes,
    # FLOPs, activations; None without an input.
    forward: ForwardStats | None = field(default=None, repr=False)
    memory: tuple[MemoryEstimate, ...] | None = field(default=None, repr=False)  # per `dtype`
    training: tuple[TrainingMemory, ...] | None = field(default=None, repr=False)  # per `dtype`, with a pass
    collapse: bool = field(default=True, repr=False)  # the text table folds repeated blocks
    notes: tuple[str, ...] = field(default=(), repr=False)

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

    @property
    def flops(self) -> int | None:
        """FLOPs of the forward pass (None without an example input)."""
        return self.forward.flops if self.forward is not None else None

    @property
    def activation_bytes(self) -> int | None:
        """What the forward pass keeps (training: saved for backward; eval: outputs)."""
        return self.forward.activation_bytes if self.forward is not None else None

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
                notes=list(self.notes),
                memory=list(self.memory) if self.memory else None,
                forward=self.forward,
                training=self.training,
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
            forward=self.forward,
            collapse=self.collapse,
            memory=self.memory,
            training=self.training,
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
        from paraminspect.render.html import show_totals
        from paraminspect.render.text import modules_markdown, tensors_markdown

        stored = only_stored(self.inventory.totals)
        modules = self.modules
        table = modules_markdown(list(modules), stored) if modules is not None else tensors_markdown(self.records)
        totals = "  \n".join(show_totals(self.inventory, self.memory, self.forward, self.training))
        return f"**{self.title}**\n\n{table}\n{totals}\n"

    def _repr_html_(self) -> str | None:
        if self._displayed:
            return None
        from paraminspect.render.html import show_html, show_totals

        flops = None
        if self.forward is not None:
            from paraminspect.render.forward_lines import flops_by_path

            flops = flops_by_path(self.forward)
        totals = show_totals(self.inventory, self.memory, self.forward, self.training)
        return show_html(self.title, self.inventory, self.records, self.modules, totals, flops, self.notes)


def summarize(
    model: Any,
    depth: int | None = None,
    filter: str | None = None,
    kind: str | None = None,
    *,
    input_shape: str | Sequence[int] | None = None,
    input_dtype: str | None = None,
    input_ids: str | Sequence[int] | None = None,
    vocab: int | None = None,
    example: str | None = None,
    inputs: Any = None,
    dtype: str | Sequence[str] | None = None,
    collapse: bool = True,
) -> ModelSummary:
    """A ModelSummary of an nn.Module (torch.compile/DDP wrappers looked through); with an
    example input, one measured forward pass (forward.stats.forward_stats) that leaves the
    model exactly as found. See paraminspect.summary."""
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
    notes: list[str] = list(inv.notes)
    forward = _forward(module, input_shape, input_dtype, input_ids, vocab, example, inputs)
    if forward is not None:
        notes.extend(forward.notes)
    memory = training = None
    if dtype is not None:
        from paraminspect.tensors.memory import estimates, inventory_as, no_split_classes, parse_dtypes, recast_note

        dtypes = parse_dtypes([dtype] if isinstance(dtype, str) else list(dtype))
        if dtypes:
            memory = tuple(estimates(inv, dtypes, no_split_classes(module)))
            if forward is not None:
                from paraminspect.forward.training_memory import training_memory

                training = tuple(training_memory(inv, forward, d) for d in dtypes)
            inv = inventory_as(inv, dtypes[0])
            notes.append(recast_note(dtypes[0]))
    records: Sequence[TensorRecord] = [
        r
        for r in inv.tensors
        if (kind is None or r.kind == kind)
        and (filter is None or any(fnmatch.fnmatchcase(n, filter) for n in (r.name, *r.aliases)))
    ]
    selected = None if len(records) == len(inv.tensors) else records
    modules = tuple(module_summary(inv, depth, selected)) if depth is not None else None
    return ModelSummary(
        inv,
        tuple(records),
        modules,
        title=inv.root_type,
        forward=forward,
        memory=memory,
        training=training,
        collapse=collapse,
        notes=tuple(notes),
    )


def _forward(
    module: Any,
    input_shape: str | Sequence[int] | None,
    input_dtype: str | None,
    input_ids: str | Sequence[int] | None,
    vocab: int | None,
    example: str | None,
    inputs: Any,
) -> ForwardStats | None:
    """The forward pass of `summarize`, on `inputs` (tensors, as the model's forward takes
    them) or the example input the CLI's options describe; None when none is given."""
    given = [x is not None for x in (input_shape, input_ids, example, inputs)]
    if not any(given) and input_dtype is None and vocab is None:
        return None
    from paraminspect.errors import UsageError
    from paraminspect.forward.stats import as_example, example_from, forward_stats

    if inputs is not None:
        if any(given[:3]) or input_dtype is not None or vocab is not None:
            raise UsageError("give either inputs or input_shape/input_ids/example, not both")
        return forward_stats(module, as_example(inputs))
    return forward_stats(
        module,
        example_from(
            module,
            input_shape=input_shape,
            input_dtype=input_dtype,
            input_ids=input_ids,
            vocab=vocab,
            example=example,
        ),
    )


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
            memory=list(summary.memory) if summary.memory else None,
            forward=summary.forward,
            collapse=summary.collapse,
            training=summary.training,
        )
        out.flush()
    return dataclasses.replace(summary, _displayed=True)
