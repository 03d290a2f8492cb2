"""Small helpers for the wording of messages, shared by every stage and renderer (standard
library only)."""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 tensor`, `2 tensors`, `1,024 tensors` (`words` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"
