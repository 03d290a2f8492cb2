"""`show`'s output: a runner.tasks.ShowResult in the format asked for. Used by the CLI, and by
show_task in the model's child process, which renders there whatever does not depend on
the CLI's terminal (every format when piped or written to a file; json, csv and markdown
always), so that 50,000 records need not be pickled, sent and rebuilt only to be printed."""

from __future__ import annotations

from typing import IO, Any

# Formats whose text depends on the terminal they are shown on (rich's width and colour).
TERMINAL_FORMATS = ("table", "text")


def write_show(out: IO[str], loaded: Any, output_format: str) -> None:
    """`show`'s output of a runner.tasks.ShowResult in `output_format`: its `rendered` text
    when the model's child process already rendered it (see show_task), else rendered here."""
    if loaded.rendered is not None:
        out.write(loaded.rendered)
        return
    inv, records, modules, memory = loaded.inventory, list(loaded.records), loaded.modules, loaded.memory
    if output_format == "json":
        from paraminspect.render.json import show_json

        out.write(
            show_json(
                spec=loaded.spec,
                resolved=loaded.resolved,
                build_device=loaded.build_device,
                inventory=inv,
                records=records,
                modules=modules,
                notes=list(loaded.notes),
                memory=memory,
            )
        )
    elif output_format == "csv":
        from paraminspect.render.text import modules_csv, tensors_csv

        out.write(modules_csv(modules) if modules is not None else tensors_csv(records))
    elif output_format == "markdown":
        from paraminspect.render.formatting import only_stored
        from paraminspect.render.text import modules_markdown, tensors_markdown

        stored = only_stored(inv.totals)
        out.write(modules_markdown(modules, stored) if modules is not None else tensors_markdown(records))
    else:  # table, text
        from paraminspect.render.console import make_console
        from paraminspect.render.table import print_show

        resolved = f" -> {loaded.resolved}" if loaded.resolved != loaded.spec else ""
        built = "read from the file" if loaded.source == "checkpoint" else f"built on {loaded.build_device}"
        title = f"{loaded.spec}{resolved} · {inv.root_type} · {built}"
        print_show(make_console(out), title=title, inventory=inv, records=records, modules=modules, memory=memory)
