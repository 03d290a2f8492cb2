"""Small helpers for the wording of messages, shared by every stage and renderer (standard
library only)."""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 tensor`, `2 tensors`, `1,024 tensors` (`words` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def listing(names: list[str], shown: int = 3) -> str:
    """`a, b, c and 2 more`: the first `shown` names, then how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
