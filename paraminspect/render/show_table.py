"""`show`'s table (formats "table" and "text"): the records of a commands.show.ShowResult,
fitted to the terminal by rich."""

from __future__ import annotations

from typing import IO, Any


def show_title(loaded: Any) -> str:
    """`spec -> resolved · RootType · built on meta`: the table's title (the HTML report's too)."""
    inv = loaded.inventory
    resolved = f" -> {loaded.resolved}" if loaded.resolved != loaded.spec else ""
    built = "read from the file" if loaded.source == "checkpoint" else f"built on {loaded.build_device}"
    return f"{loaded.spec}{resolved} · {inv.root_type} · {built}"


def write_table(out: IO[str], loaded: Any) -> None:
    """The titled tensor (or --depth module) table or --tree, totals, the forward pass's totals
    and memory estimates; for a GGUF file or a DCP checkpoint, what its format records
    beside the tensors."""
    from paraminspect.render.checkpoint_info import checkpoint_lines
    from paraminspect.render.console import make_console
    from paraminspect.render.table import print_show, terminal_width

    console = make_console(out)
    print_show(
        console,
        title=show_title(loaded),
        inventory=loaded.inventory,
        records=list(loaded.records),
        modules=loaded.modules,
        memory=loaded.memory,
        forward=loaded.forward,
        collapse=loaded.collapse,
        tree=loaded.tree_modules,
        training=loaded.training,
    )
    extra = checkpoint_lines(getattr(loaded, "checkpoint", None), loaded.inventory.tensors, terminal_width(console))
    if extra:
        console.file.write("\n" + "\n".join(extra) + "\n")
