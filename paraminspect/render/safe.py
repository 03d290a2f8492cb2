"""Output safety: strings that came from a file or from user code (tensor names, dtypes,
paths, exception messages, a model's own output) are made printable before a terminal shows
them. Every character Python does not count as printable (C0, DEL and C1 controls: ANSI
escapes, OSC titles, newlines that would split a row, NUL; bidirectional overrides, zero-width
and line-separator characters) is escaped visibly, as repr() writes it (`\\x1b`, `\\n`,
`\\u202e`). JSON and SARIF keep the exact string (JSON escapes it). No rich here.
"""

from __future__ import annotations

MESSAGE_LIMIT = 1000  # characters of one stderr line taken from user code or a file

_KEEP_LINES = frozenset("\n\r")


def printable(text: object, newlines: bool = False) -> str:
    """`text` with every non-printable character escaped visibly, as repr() writes it (see
    the module docstring); `newlines=True` keeps line breaks (for formats that encode them,
    such as GitHub's workflow commands)."""
    value = str(text)
    if value.isprintable():  # a fast C scan: the common case
        return value
    return "".join(c if c.isprintable() or (newlines and c in _KEEP_LINES) else repr(c)[1:-1] for c in value)


def one_line(text: object, limit: int = MESSAGE_LIMIT) -> str:
    """A printable message cut to `limit` characters, saying how long it was."""
    value = printable(text)
    if len(value) <= limit:
        return value
    return f"{value[:limit]}... (cut: {len(value):,} characters in all)"
