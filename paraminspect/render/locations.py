"""Where a finding is, for humans: a path short enough to read at 80 columns (relative to
the working directory, or to the site-packages folder it is installed in), and on a
terminal a hyperlink (OSC 8, through rich's `link` style) to the whole file, so that the
short path stays clickable. Piped output gets neither: the whole path, plain."""

from __future__ import annotations

from pathlib import Path

from rich.style import Style
from rich.text import Text

from paraminspect.render.github import display_path
from paraminspect.render.safe import printable

# Folders that installed packages live in: a path below one is shown from the package on.
PACKAGE_FOLDERS = ("site-packages", "dist-packages")


def short_path(file: str | None) -> str | None:
    """`file` from the package on when it is installed (`timm/models/vision_transformer.py`,
    also from a virtual environment inside the project); else relative to the working
    directory when below it (the project); else whole."""
    shown = display_path(file)
    if shown is None:
        return shown
    parts = shown.split("/")
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] in PACKAGE_FOLDERS:
            return "/".join(parts[index + 1 :])
    return shown


def file_uri(file: str) -> str | None:
    """A `file://` URI of `file` (absolute), None when it has none."""
    try:
        return Path(file).resolve().as_uri()
    except (OSError, ValueError):
        return None


def location_text(
    file: str | None, line: int | None, column: int | None, terminal: bool, room: int | None = None
) -> Text:
    """`path:line:col`: on a terminal the short path linked to the file (cut in the middle
    to fit `room` cells; the link keeps all of it), piped the path as the JSON and GitHub
    formats write it (relative to the working directory, else whole)."""
    from paraminspect.render.fit import cell_width, shorten_path

    path = printable((short_path(file) if terminal else display_path(file)) or "")
    suffix = "" if line is None else f":{line}" + (f":{column}" if column is not None else "")
    if room is not None and cell_width(path + suffix) > room:
        path = shorten_path(path, max(room - cell_width(suffix), 12))
    link = file_uri(file) if terminal and file else None
    return Text(path + suffix, style=Style(link=link) if link else "")
