"""`paraminspect show MODEL`: its options, what runs in the model's child process (load, take
the inventory, filter, and render there what does not need the CLI's terminal), and the
report. Imports only the standard library and paraminspect.formats at module level: the CLI
imports it to unpickle a ShowResult, and model processes preload it."""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional

from paraminspect import formats
from paraminspect.wording import plural

SHOW_TARGET = "paraminspect.commands.show:show_in_child"


@dataclass(frozen=True)
class ShowOptions:
    """`show`'s command line, validated by cli.py."""

    model: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    device: Optional[str] = None
    depth: Optional[int] = None
    kind: Optional[str] = None
    name_filter: Optional[str] = None
    output_format: str = formats.default(formats.SHOW)
    output_file: Optional[Path] = None
    trust_pickle: bool = False
    trust_remote_code: bool = False
    weights: bool = False
    dtypes: Optional[list[str]] = None
    timeout: Optional[float] = None
    no_cache: bool = False
    run: Any = None  # forward.examples.RunOptions: the example input of a forward pass (None: no pass)
    tree: bool = False
    collapse: bool = True


@dataclass(frozen=True)
class ShowResult:
    """What `show` renders: the loaded spec's description, the whole inventory (for totals),
    the records that pass --kind/--filter, and the per-module rows of --depth."""

    spec: str
    resolved: str
    build_device: str
    source: str
    notes: tuple[str, ...]
    inventory: Any  # tensors.records.Inventory: its tensors, totals and notes (see show_in_child)
    records: tuple[Any, ...]
    modules: Any = None  # list of ModuleSummaryRow under --depth
    memory: Any = None  # list of tensors.memory.MemoryEstimate under --dtype
    rendered: str | None = None  # the output, when rendered in the child (then no records)
    # what a checkpoint's format records beside its tensors, as JSON-ready data (a GGUF file's
    # metadata, a DCP checkpoint's chunks): LoadedModel.checkpoint_info.as_dict(), else None
    checkpoint: dict[str, Any] | None = None
    forward: Any = None  # forward.stats_data.ForwardStats of --input-shape/--input-ids/--example
    training: Any = None  # tuple of forward.training_memory.TrainingMemory, one per --dtype, with a pass
    tree_modules: Any = None  # list of ModuleSummaryRow of every module down to --depth, under --tree
    collapse: bool = True  # tables fold repeated blocks into one row (--no-collapse: False)


def _filter_hint(pattern: str, tensors: Any) -> str:
    """Why --filter kept nothing: a glob matches whole names; the pattern inside `*...*`
    when that matches some."""
    wider = f"*{pattern.strip('*')}*"
    found = [r.name for r in tensors if any(fnmatch.fnmatchcase(n, wider) for n in (r.name, *r.aliases))]
    example = found[0] if found else next((r.name for r in tensors), "")
    text = f"--filter {pattern!r} matches no tensor: a pattern matches whole names"
    text += f" (such as {example!r})" if example else ""
    if found and wider != pattern:
        text += f"; --filter {wider!r} matches {plural(len(found), 'tensor')}"
    return text


def show_in_child(
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
    run: Any = None,
    tree: bool = False,
    collapse: bool = True,
) -> ShowResult:
    """Load `spec` (or, with `weights`, list a Hugging Face folder's weight files) and take
    its inventory, recast to `dtypes[0]` with memory estimates under --dtype (in the child).
    `run` (forward.examples.RunOptions): measure one forward pass on that example input
    (forward.stats.forward_stats: output shapes, FLOPs, activations), with the training
    memory of each --dtype. `render`: a format to render the output in here, sent back
    instead of the records."""
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
    forward = _forward_pass(module, run, loaded.spec) if run is not None else None
    if forward is not None:
        wrap_notes.extend(forward.notes)
    memory = training = None
    if dtypes:
        from paraminspect.tensors.memory import estimates, inventory_as, no_split_classes, recast_note

        memory = estimates(inv, dtypes, no_split_classes(module))
        wrap_notes.append(recast_note(dtypes[0], inv))
        if forward is not None:
            from paraminspect.forward.training_memory import training_memory

            training = tuple(training_memory(inv, forward, dtype) for dtype in dtypes)
        inv = inventory_as(inv, dtypes[0])
    records = tuple(
        r
        for r in inv.tensors
        if (kind is None or r.kind == kind)
        and (name_filter is None or any(fnmatch.fnmatchcase(n, name_filter) for n in (r.name, *r.aliases)))
    )
    if name_filter is not None and not records:
        wrap_notes.append(_filter_hint(name_filter, inv.tensors))
    # --filter/--kind count in --depth views too
    selection = None if len(records) == len(inv.tensors) else records
    modules = tree_modules = None
    if tree:  # every module down to --depth, drawn as a tree instead of the table
        tree_modules = module_summary(inv, depth if depth is not None else _ALL_LEVELS, selection)
    elif depth is not None:
        modules = module_summary(inv, depth, selection)
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
        checkpoint=loaded.checkpoint_info.as_dict() if loaded.checkpoint_info is not None else None,
        forward=forward,
        training=training,
        tree_modules=tree_modules,
        collapse=collapse,
    )
    if render is None:
        # What the CLI renders: tensors, totals, notes. Classes would import user code in the
        # parent; module and reference records (25,000 of the 50,000-tensor sample) would only
        # cost pickling both ways (~0.3 s there).
        slim = dataclasses.replace(inv, module_classes={}, modules=(), references=(), assignment_sites={})
        return dataclasses.replace(result, inventory=slim)
    import io

    from paraminspect.collector import collector_paused

    text = io.StringIO()
    with collector_paused():  # rows of text for tens of thousands of records, no cycles
        render_show(text, result, render)
    return dataclasses.replace(
        result,
        checkpoint=None,
        inventory=None,
        records=(),
        modules=None,
        memory=None,
        forward=None,
        training=None,
        tree_modules=None,
        rendered=text.getvalue(),
    )


_ALL_LEVELS = 1_000_000  # --tree without --depth: every level


def _forward_pass(module: Any, run: Any, spec: str) -> Any:
    """forward_stats on the example input `run` (forward.examples.RunOptions) describes: a
    ForwardStats, or a UsageError of one line (no input, no engine could run it)."""
    from paraminspect.errors import UsageError

    if module is None:
        raise UsageError(
            f"{spec} is a checkpoint: its tensors have no forward pass to measure (show the model that loads it)"
        )
    from paraminspect.forward.examples import max_cpu_bytes, resolve_example
    from paraminspect.forward.stats import forward_stats

    example = resolve_example(run, module)
    return forward_stats(module, example, max_cpu=max_cpu_bytes(run.max_cpu_bytes), what=spec)


def render_show(out: IO[str], loaded: ShowResult, output_format: str) -> None:
    """`show`'s output of a ShowResult in `output_format`: its `rendered` text when the
    model's child process already rendered it, else rendered here."""
    if loaded.rendered is not None:
        out.write(loaded.rendered)
        return

    formats.renderer(output_format, formats.SHOW)(out, loaded)


_TREE_FORMATS = ("table", "text")
_FORWARD_FORMATS = ("table", "text", "json", "html")  # those that show a forward pass
# What a forward pass imports, imported before the task with the collector paused (see
# collector.import_paused): torch wraps every dispatch mode's handler (FlopCounterMode's
# among them) in a function that imports torch._dynamo on its first call (~1-2 s of imports
# a timm model's import has paid already, another model not).
FORWARD_PRELOAD = ("paraminspect.forward.stats", "torch._dynamo")


def run_show(options: ShowOptions, invocation: Any) -> int:
    """`show`: the result cache, else the model's child process (or this process, for a
    listing that runs no code), then the report."""
    from paraminspect.commands.cached import maybe_cached

    # an --example function may read anything (data files): never answered from the cache
    use_cache = not options.no_cache and not options.weights and (options.run is None or options.run.example is None)
    return maybe_cached([options.model], use_cache, options.output_file, invocation, lambda: _show(options, invocation))


def _show(options: ShowOptions, invocation: Any) -> int:
    import gc
    import sys

    from paraminspect.commands.arguments import refuse_overwriting
    from paraminspect.commands.outcomes import in_child
    from paraminspect.commands.output import EXIT_OK, notify, output_to
    from paraminspect.errors import UsageError
    from paraminspect.forms import parse_spec, preload_for
    from paraminspect.runner import Task, resolve_timeout

    if options.weights and options.kwargs:
        raise UsageError("--weights lists stored tensors: it takes no -a arguments")
    if options.weights and options.run is not None:
        raise UsageError("--weights lists stored tensors: they have no forward pass to run on an example input")
    if options.run is not None and options.output_format not in _FORWARD_FORMATS:
        raise UsageError(
            f"--format {options.output_format} has no place for a forward pass: use "
            f"{', '.join(_FORWARD_FORMATS[:-1])} or {_FORWARD_FORMATS[-1]} with an example input"
        )
    if options.tree and options.output_format not in _TREE_FORMATS:
        raise UsageError(f"--tree draws the module tree as text: use it with --format {' or '.join(_TREE_FORMATS)}")
    on_terminal = options.output_file is None and sys.stdout.isatty()
    terminal = formats.get(options.output_format).terminal
    kwargs = {
        "spec": options.model,
        "kwargs": options.kwargs,
        "device": options.device,
        "trust_pickle": options.trust_pickle,
        "depth": options.depth,
        "kind": options.kind,
        "name_filter": options.name_filter,
        "weights": options.weights,
        "trust_remote_code": options.trust_remote_code,
        "dtypes": options.dtypes,
        # rendered where the records are, unless it needs this process's terminal
        "render": None if on_terminal and terminal else options.output_format,
        "run": options.run,
        "tree": options.tree,
        "collapse": options.collapse,
    }
    refuse_overwriting(options.output_file, [options.model])
    if not options.weights and parse_spec(options.model).in_cli(options.trust_pickle):
        loaded = show_in_child(**kwargs)  # a listing that runs no code: here, without a child
    else:
        from paraminspect.commands.outcomes import fetch_hub_configs

        fetch_hub_configs([options.model])  # here: the model process has no network
        task = Task(SHOW_TARGET, kwargs, label=options.model)
        preload = (*preload_for([options.model]), *(FORWARD_PRELOAD if options.run is not None else ()))
        loaded = in_child(task, resolve_timeout(options.timeout), preload, invocation)
    gc.freeze()  # the records are here: the collector need not rescan them while we render
    for message in loaded.notes:
        notify(message)
    with output_to(options.output_file) as out:
        render_show(out, loaded, options.output_format)
    return EXIT_OK
