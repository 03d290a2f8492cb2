"""The task kinds the CLI runs in child processes: `show_task` and `check_task`.

Each is called in the child with plain keyword arguments and returns plain data that the
parent can unpickle without torch (records and findings are torch-free dataclasses; the
inventory's class table, which would make the parent import the user's module, is dropped).
This module imports only the standard library at module level: the parent imports it to
unpickle ShowResult.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass
from typing import Any

SHOW = "paraminspect.runner.tasks:show_task"
DIFF = "paraminspect.runner.tasks:diff_task"
CHECK = "paraminspect.runner.tasks:check_task"


@dataclass(frozen=True)
class ShowResult:
    """What `show` renders: the loaded spec's description, the whole inventory (for totals),
    the records that pass --kind/--filter, and the per-module rows of --depth."""

    spec: str
    resolved: str
    build_device: str
    source: str
    notes: tuple[str, ...]
    inventory: Any  # tensors.records.Inventory: its tensors, totals and notes (see show_task)
    records: tuple[Any, ...]
    modules: Any = None  # list of ModuleSummaryRow under --depth
    memory: Any = None  # list of tensors.memory.MemoryEstimate under --dtype
    rendered: str | None = None  # the output, when rendered in the child (then no records)


def show_task(
    spec: str,
    kwargs: dict[str, Any] | None = None,
    device: str | None = None,
    trust_pickle: bool = False,
    depth: int | None = None,
    kind: str | None = None,
    name_filter: str | None = None,
    weights: bool = False,
    trust_remote_code: bool = False,
    dtypes: list[str] | None = None,
    render: str | None = None,
) -> ShowResult:
    """Load `spec` (or, with `weights`, list a Hugging Face folder's weight files) and take
    its inventory, recast to `dtypes[0]` with memory estimates under --dtype (in the child).
    `render`: a format to render the output in here (see render.show), sent back instead of
    the records."""
    import gc

    from paraminspect.loaders.dispatch import load
    from paraminspect.tensors.totals import module_summary

    if weights:
        from paraminspect.loaders.hf import load_hf_weights

        loaded = load_hf_weights(spec, trust_pickle=trust_pickle)
    else:
        loaded = load(spec, kwargs or {}, device, trust_pickle=trust_pickle, trust_remote_code=trust_remote_code)
    gc.freeze()  # the model is built: the collector need not rescan its objects
    module = None
    if loaded.inventory is not None:  # a checkpoint listed from its headers
        inv, wrap_notes = loaded.inventory, []
    else:
        from paraminspect.tensors.walk import build_inventory  # imports torch
        from paraminspect.tensors.wrappers import unwrap

        module, wrap_notes = unwrap(loaded.module)
        inv = build_inventory(module)
    wrap_notes = [*wrap_notes, *inv.notes]
    memory = None
    if dtypes:
        from paraminspect.tensors.memory import estimates, inventory_as, no_split_classes, recast_note

        memory = estimates(inv, dtypes, no_split_classes(module))
        inv = inventory_as(inv, dtypes[0])
        wrap_notes.append(recast_note(dtypes[0]))
    records = tuple(
        r
        for r in inv.tensors
        if (kind is None or r.kind == kind)
        and (name_filter is None or any(fnmatch.fnmatchcase(n, name_filter) for n in (r.name, *r.aliases)))
    )
    # --filter/--kind count in --depth views too
    modules = None
    if depth is not None:
        modules = module_summary(inv, depth, None if len(records) == len(inv.tensors) else records)
    # What the CLI renders: tensors, totals, notes. Classes would import user code in the
    # parent; module and reference records (25,000 of the 50,000-tensor sample) would only
    # cost pickling both ways (~0.3 s there).
    inv = dataclasses.replace(inv, module_classes={}, modules=(), references=())
    result = ShowResult(
        spec=loaded.spec,
        resolved=loaded.resolved,
        build_device=loaded.build_device,
        source=loaded.source,
        notes=(*loaded.notes, *wrap_notes),
        inventory=inv,
        records=records,
        modules=modules,
        memory=memory,
    )
    if render is None:
        return result
    import io

    from paraminspect.collector import collector_paused
    from paraminspect.render.show import write_show

    text = io.StringIO()
    with collector_paused():  # rows of text for tens of thousands of records, no cycles
        write_show(text, result, render)
    return dataclasses.replace(result, inventory=None, records=(), modules=None, memory=None, rendered=text.getvalue())


def runs_no_code(spec: str, trust_pickle: bool, weights: bool) -> bool:
    """Listings that run no code from anywhere, so the CLI may take them in its own process
    (and without torch for safetensors): a safetensors file, or an index of shards read
    header-only or with weights_only unpickling."""
    lower = spec.lower()
    return not weights and (lower.endswith(".safetensors") or (lower.endswith(".index.json") and not trust_pickle))


def check_task(spec: str, **options: Any) -> Any:
    """checking.check_model in the child: a ModelResult (plain findings and notes). The
    collector stays paused until the model is dropped: the build pauses it, and a pass
    between the build and the end of the checks would rescan every object of the model
    (all young), ~4% of a timm model's check in a sweep."""
    from paraminspect.checking import check_model
    from paraminspect.collector import collector_paused

    with collector_paused():
        return check_model(spec, **options)


def failed_check(spec: str, message: str) -> Any:
    """The ModelResult of a check whose child failed (crash, timeout, internal error)."""
    from paraminspect.checking import ModelResult

    return ModelResult(spec=spec, error=message)


def diff_task(
    left: str,
    right: str | None,
    left_kwargs: dict[str, Any],
    right_kwargs: dict[str, Any],
    trust_pickle: bool = False,
    weights: bool = False,
    trust_remote_code: bool = False,
) -> Any:
    """`diff`: both sides gathered and compared here (a Diff of plain, torch-free data);
    with `weights`, RIGHT is LEFT's own weight files."""
    from paraminspect.diffs import diff_sides

    other: Any = right
    if weights:
        from paraminspect.diffs.gather import gather_weights

        other = gather_weights(left, trust_pickle=trust_pickle)
    return diff_sides(
        left,
        other,
        left_kwargs=left_kwargs,
        right_kwargs=right_kwargs,
        trust_pickle=trust_pickle,
        trust_remote_code=trust_remote_code,
    )
