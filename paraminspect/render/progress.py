"""A progress bar for checking many models: drawn on a terminal only, nothing when piped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any


@contextmanager
def progress_bar(total: int, file: IO[str]) -> Iterator[Callable[[Any], None]]:
    """Yields `advance(result)`, to call once per finished ModelResult. On a terminal it
    draws a bar with counts of models with findings and failures; otherwise it does nothing."""
    if total < 2 or not file.isatty():
        yield lambda result: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Column

    from paraminspect.render.fit import printable

    counts = {"findings": 0, "failed": 0}
    columns = (
        TextColumn("[bold]checking"),
        BarColumn(bar_width=24),  # a fixed bar: long model names must not squeeze it
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        # the only column that gives way: cut at the edge, never wrapped, never pushing the time out
        TextColumn("{task.fields[status]}", table_column=Column(no_wrap=True, overflow="ellipsis", min_width=1)),
    )

    def status(spec: str | None = None) -> str:
        text = f"{counts['findings']} with findings · {counts['failed']} failed"
        return f"{text} · {printable(spec)}" if spec else text

    with Progress(*columns, console=Console(file=file), transient=False) as progress:
        task = progress.add_task("check", total=total, status="")

        def advance(result: Any) -> None:
            counts["failed"] += result.error is not None
            counts["findings"] += bool(result.findings)
            progress.update(task, advance=1, status=status(result.spec))

        try:
            yield advance
        finally:  # the last frame: the counts, not the name of whichever model ended last
            progress.update(task, status=status())
