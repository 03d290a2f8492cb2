"""Where a command's output goes: stdout or the `-o` file, notes and the model's own output on
stderr; the exit codes. Stages never print: only the commands write, through these."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Iterable, Iterator
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

    sys.stderr.write(_fit_stderr(f"{prefix}: {one_line(message)}", indent=len(prefix) + 2) + "\n")


def stderr_lines(lines: Iterable[str], indent: int = 4) -> None:
    """Report lines on stderr (`check --fix`/`--diff`'s), each wrapped at word boundaries
    to a terminal's width with its continuation lines indented; piped, each as it is."""
    for line in lines:
        sys.stderr.write(_fit_stderr(line, indent) + "\n")


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


# Files the models of this command read (filled by the runner as they run): -o may not name one.
_protected: list[Collection[str]] = []


@contextmanager
def protecting(paths: Collection[str]) -> Iterator[None]:
    """While the block runs, `-o` (output_to) refuses to overwrite any of `paths`, a
    collection that may still grow (the files the models' runs read, as they read them)."""
    _protected.append(paths)
    try:
        yield
    finally:
        _protected.remove(paths)


def refuse_inputs(output: os.PathLike[str] | str, inputs: Iterable[str]) -> None:
    """A UsageError when `output` is (or links to) one of `inputs`."""
    try:
        out = os.stat(output)
    except OSError:
        return  # it does not exist yet
    for name in inputs:
        try:
            st = os.stat(name)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
            raise UsageError(f"-o {output} is {name}, a file the model's code read: refused (it would be overwritten)")


@contextmanager
def output_to(path: Optional[Path]) -> Iterator[IO[str]]:
    """stdout, or the -o file, written all or nothing (paraminspect.atomic: a full disk or an
    error leaves the old file as it was). A reader that goes away (`| head`) ends the output,
    not the command: its exit code still reports the result (click would turn the broken pipe
    into exit 1, which reads as "findings")."""
    if path is None:
        try:
            yield sys.stdout
        except BrokenPipeError:
            pass  # cli.finish_output points stdout at /dev/null so nothing writes to the pipe again
        return
    from paraminspect.atomic import atomic_text, describe

    for inputs in list(_protected):
        refuse_inputs(path, list(inputs))
    try:
        with atomic_text(path, encoding="utf-8") as fh:
            yield fh
    except OSError as exc:  # a full disk (ENOSPC, -o /dev/full), a read-only file
        raise UsageError(f"cannot write {path}: {describe(exc)}") from None


def write_file(path: Path, text: str) -> None:
    """A file the user named (`--mapping`, a cached -o file), written as output_to does."""
    from paraminspect.atomic import describe, write_text

    for inputs in list(_protected):
        refuse_inputs(path, list(inputs))
    try:
        write_text(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {describe(exc)}") from None
