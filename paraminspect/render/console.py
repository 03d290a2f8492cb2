"""The one rich Console factory: colour and the terminal's width on a terminal; piped or
written to a file, no colour and no width limit, so names are never cut in the middle."""

from __future__ import annotations

from typing import IO

from rich.console import Console

# Wide enough for any real name; rich only uses the width the output needs.
UNLIMITED_WIDTH = 100_000


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich would exit(1) here; the CLI decides instead, so that `check ... | head`
        # still exits with the code of the result
        self.quiet = True
        raise BrokenPipeError


def make_console(file: IO[str]) -> Console:
    if file.isatty():
        return _Console(file=file, highlight=False)
    return _Console(file=file, width=UNLIMITED_WIDTH, no_color=True, highlight=False, soft_wrap=True)
