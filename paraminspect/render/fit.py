"""Fitting text into a terminal's width: cell widths, names shortened in the middle, lines
cropped. Pure functions of strings and a width; no console, no I/O."""

from __future__ import annotations

from rich.cells import cell_len

from paraminspect.render.safe import printable

__all__ = ["cell_width", "crop", "plural", "printable", "shorten_middle", "wrap_items"]

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
    """`text` cut in the middle to at most `width` cells: `blocks.11.…fc2.weight`. The end
    of a dotted name says what the tensor is, so the tail gets the larger share, starting
    at a `.` where one fits; the head keeps as much of the start as the rest allows."""
    if width <= 1:
        return text if cell_width(text) <= width else ELLIPSIS[:width]
    room = width - 1
    tail_room = max(1, (room * 3 + 4) // 5)  # ~60% of the cells go to the tail
    if text.isascii():  # the common case, kept cheap: 50,000 names per table
        if len(text) <= width:
            return text
        tail = text[-tail_room:]
        dot = tail.find(".")
        if 0 <= dot < len(tail) - 1:
            tail = tail[dot + 1 :]
        return text[: room - len(tail)] + ELLIPSIS + tail
    if cell_len(text) <= width:
        return text
    tail = _tail(text, tail_room)
    dot = tail.find(".")
    if 0 <= dot < len(tail) - 1 and text.endswith(tail):  # start the tail at a name boundary
        tail = tail[dot + 1 :]
    head = _head(text, room - cell_width(tail))
    return head + ELLIPSIS + tail


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
            lines.append(current + sep.rstrip())
            current = crop(indent + item, width)
        else:
            current = candidate
        first = False
    lines.append(current if len(lines) else crop(current, width))
    return lines


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 tensor`, `2 tensors` (`words` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"
