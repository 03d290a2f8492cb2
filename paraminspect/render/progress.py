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

    counts = {"findings": 0, "failed": 0}
    columns = (
        TextColumn("[bold]checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=Console(file=file), transient=False) as progress:
        task = progress.add_task("check", total=total, status="")

        def advance(result: Any) -> None:
            counts["failed"] += result.error is not None
            counts["findings"] += bool(result.findings)
            status = f"{counts['findings']} with findings · {counts['failed']} failed · {result.spec}"
            progress.update(task, advance=1, status=status)

        yield advance
