"""`show`'s table (formats "table" and "text"): the records of a commands.show.ShowResult,
fitted to the terminal by rich."""

from __future__ import annotations

from typing import IO, Any


def write_table(out: IO[str], loaded: Any) -> None:
    """The titled tensor (or --depth module) table, totals and memory estimates."""
    from paraminspect.render.console import make_console
    from paraminspect.render.table import print_show

    inv = loaded.inventory
    resolved = f" -> {loaded.resolved}" if loaded.resolved != loaded.spec else ""
    built = "read from the file" if loaded.source == "checkpoint" else f"built on {loaded.build_device}"
    title = f"{loaded.spec}{resolved} · {inv.root_type} · {built}"
    print_show(
        make_console(out),
        title=title,
        inventory=inv,
        records=list(loaded.records),
        modules=loaded.modules,
        memory=loaded.memory,
    )
