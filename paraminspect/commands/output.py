"""Where a command's output goes: stdout or the `-o` file, notes and the model's own output on
stderr; the exit codes. Stages never print: only the commands write, through these."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Optional

from paraminspect.errors import UsageError

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def notify(message: str) -> None:
    """`note: message` on stderr, one printable line (wrapped to a terminal's width)."""
    from paraminspect.render.safe import one_line

    sys.stderr.write(_fit_stderr(f"note: {one_line(message)}", indent=len("note: ")) + "\n")


def error_line(message: str, prefix: str = "error") -> None:
    """`error: message` (or `warning: ...`) on stderr, one printable line."""
    from paraminspect.render.safe import one_line

    sys.stderr.write(f"{prefix}: {one_line(message)}\n")


def _fit_stderr(text: str, indent: int) -> str:
    """On a terminal, `text` wrapped at word boundaries to its width, continuation lines
    indented (a path longer than the width stays whole); piped, the one line as it is."""
    try:
        if not sys.stderr.isatty():
            return text
        width = os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return text
    if width <= indent + 10:
        return text
    from paraminspect.render.fit import wrap_text

    return "\n".join(wrap_text(text, width, "", hanging=" " * indent))


def model_output(text: str, label: Optional[str] = None) -> None:
    """What a model's code printed in its child process: on stderr, each line marked as the
    model's and made printable (stdout carries only paraminspect's own output)."""
    from paraminspect.render.safe import printable

    mark = "model output" if label is None else f"model output ({printable(label)})"
    for line in text.splitlines():
        sys.stderr.write(f"{mark}: {printable(line)}\n")


@contextmanager
def output_to(path: Optional[Path]) -> Iterator[IO[str]]:
    """stdout, or the -o file (closed before the command returns). A reader that goes away
    (`| head`) ends the output, not the command: its exit code still reports the result
    (click would turn the broken pipe into exit 1, which reads as "findings")."""
    if path is None:
        try:
            yield sys.stdout
        except BrokenPipeError:
            pass  # cli.finish_output points stdout at /dev/null so nothing writes to the pipe again
        return
    try:
        fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    try:
        yield fh
        fh.close()  # a full disk (ENOSPC, -o /dev/full) shows here or in a write
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        try:
            fh.close()
        except OSError:
            pass
