"""GitHub Actions workflow commands: one annotation per finding, shown on the pull request's
diff at the assignment's line (`::error file=F,line=L,title=PI004::message`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def display_path(file: str | None, base: Path | None = None) -> str | None:
    """`file` relative to `base` (default: the working directory, which is the repository
    root in CI) when it lies below it, else as given; always with forward slashes."""
    if file is None:
        return None
    base = (base or Path.cwd()).resolve()
    try:
        path = Path(file).resolve()
    except OSError:
        return file
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix() if os.sep != "/" else str(path)


def escape_data(text: str) -> str:
    """The message part of a workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A `key=value` property of a workflow command: also `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, title: str, file: str | None = None, line: int | None = None) -> str:
    from paraminspect.render.safe import printable

    message, title = printable(message, newlines=True), printable(title)
    file = printable(file) if file is not None else None
    props = []
    if file is not None:
        props.append(f"file={escape_property(file)}")
        if line is not None:
            props.append(f"line={line}")
    props.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def check_github(results: Sequence[Any]) -> str:
    """Annotations for every finding of every model (ModelResult), and an error annotation
    for each model that could not be loaded."""
    lines = []
    for result in results:
        if result.error is not None:
            lines.append(annotation("error", f"{result.spec}: {result.error}", "paraminspect: load error"))
            continue
        for f in result.findings:
            prefix = f"{f.model}: " if f.model else ""
            lines.append(annotation(LEVELS[f.severity], prefix + f.message, f.code, display_path(f.file), f.line))
    return "".join(line + "\n" for line in lines)


def write_check(out: Any, report: Any) -> None:
    """`check --format github` of a commands.check.CheckReport."""
    out.write(check_github(report.results))
