"""Fitting text into a terminal's width: cell widths, names shortened in the middle, lines
cropped. Pure functions of strings and a width; no console, no I/O."""

from __future__ import annotations

import textwrap

from rich.cells import cell_len

from paraminspect.render.safe import printable

__all__ = ["cell_width", "crop", "printable", "shorten_middle", "shorten_path", "wrap_items", "wrap_text"]

ELLIPSIS = "…"


def cell_width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def _head(text: str, cells: int) -> str:
    """The longest prefix of `text` at most `cells` wide."""
    if text.isascii():
        return text[:cells]
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > cells:
            break
        out.append(ch)
        used += w
    return "".join(out)


def _tail(text: str, cells: int) -> str:
    return _head(text[::-1], cells)[::-1]


def shorten_middle(text: str, width: int) -> str:
    """`text` cut in the middle to at most `width` cells: `blocks.11.…fc2.weight`. The head
    is the longest dotted prefix (`blocks.11.`) that takes at most half the room, which
    keeps the layer's index; the tail gets the rest, starting at a `.` when the cut would
    leave only a scrap (under 4 cells) of a name part."""
    if width <= 1:
        return text if cell_width(text) <= width else ELLIPSIS[:width]
    if text.isascii():  # the common case, kept cheap: 50,000 names per table
        if len(text) <= width:
            return text
        room = width - 1
        cut = text.rfind(".", 0, room // 2)
        head = text[: cut + 1] if cut > 0 else text[: room // 2]
        start = len(text) - (room - len(head))
        tail = text[start:]
        dot = tail.find(".")
        if 0 <= dot < 4 and dot < len(tail) - 1 and text[start - 1] != ".":
            tail = tail[dot + 1 :]
        return head + ELLIPSIS + tail
    if cell_len(text) <= width:
        return text
    room = width - 1
    cut = _head(text, room // 2).rfind(".")
    head = text[: cut + 1] if cut > 0 else _head(text, room // 2)
    tail = _tail(text, room - cell_width(head))
    dot = tail.find(".")
    if 0 <= dot < 4 and dot < len(tail) - 1 and not text[: len(text) - len(tail)].endswith("."):
        tail = tail[dot + 1 :]
    return head + ELLIPSIS + tail


def shorten_path(path: str, width: int) -> str:
    """A file path cut in the middle at folder boundaries, to at most `width` cells: its
    first folder, `…`, then as many of its last parts as fit (the file name always, cut
    itself only when nothing else fits): `/usr/…/timm/models/vit.py`."""
    if cell_width(path) <= width:
        return path
    parts = path.split("/")
    if len(parts) < 2 or not parts[-1]:
        return shorten_middle(path, width)
    head = parts[0] + "/" if parts[0] else "/" + parts[1] + "/"
    rest = parts[1:] if parts[0] else parts[2:]
    if len(rest) < 2:  # `folder/file.py`: the file name is what matters
        head, rest = "", parts
    tail = rest[-1]
    if cell_width(head) + 2 + cell_width(tail) > width:
        head = ""
    if cell_width(tail) + 2 > width:  # not even the file name: its end
        return ELLIPSIS + _tail(path, width - 1)
    for part in reversed(rest[:-1]):
        candidate = f"{part}/{tail}"
        if cell_width(head) + 2 + cell_width(candidate) > width:
            break
        tail = candidate
    return f"{head}{ELLIPSIS}/{tail}"


def crop(line: str, width: int) -> str:
    """A plain line cut at the right edge, ending in `…` when something was cut."""
    if cell_width(line) <= width:
        return line
    return _head(line, width - 1) + ELLIPSIS


def wrap_items(label: str, items: list[str], width: int | None, sep: str = ", ") -> list[str]:
    """`label` then the items joined by `sep`, broken between items (never inside one) so
    that no line is wider than `width`; continuation lines are indented under the first
    item. `width=None`: one line."""
    if width is None or not items:
        return [label + sep.join(items)]
    indent = " " * min(len(label), 8) if label else "  "
    lines: list[str] = []
    current = label
    first = True
    for item in items:
        candidate = current + ("" if first else sep) + item
        if not first and cell_width(candidate) > width:
            ending = current + sep.rstrip()  # the separator ends the line, unless it would not fit
            lines.append(ending if cell_width(ending) <= width else current)
            current = crop(indent + item, width)
        else:
            current = candidate
        first = False
    lines.append(current if len(lines) else crop(current, width))
    return lines


def wrap_text(text: str, width: int | None, indent: str, hanging: str | None = None) -> list[str]:
    """`text` wrapped at word boundaries to `width` cells, each line starting with `indent`
    (lines after the first with `hanging`, when given); a word longer than the width (a
    path) stays whole. No width: one line."""
    rest = indent if hanging is None else hanging
    if width is None or cell_width(indent + text) <= width:
        return [indent + text]
    return textwrap.wrap(
        text, width, initial_indent=indent, subsequent_indent=rest, break_on_hyphens=False, break_long_words=False
    ) or [indent + text]
