"""Where a project shows how its classes are built: its tests/, examples/ and docs/ folders,
its README's code blocks, and `if __name__ == "__main__":` blocks. Files are listed and
their Python pieces cut out (with the line each starts on); nothing is imported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from paraminspect.static.args.model import DOCS, EXAMPLE, README, TEST

_SKIP = frozenset({"site-packages", "__pycache__", "node_modules", "build", "dist"})
FOLDERS = {"tests": TEST, "test": TEST, "examples": EXAMPLE, "example": EXAMPLE, "docs": DOCS, "doc": DOCS}
_FENCE = re.compile(
    r"^(?P<fence>```|~~~)[ \t]*(?:\{\.?)?(?:python3?|py|pycon)\b[^\n]*\n(?P<code>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)
_RST = re.compile(r"^(?P<indent>[ \t]*)\.\. (?:code-block|code|sourcecode)::[ \t]*(?:python3?|py|pycon)[ \t]*\n", re.M)
MAX_BYTES = 2_000_000  # a bigger "document" is data, not documentation


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """(kind, file) under the root: files inside tests/ (and test_*.py anywhere),
    examples/ and docs/ folders; hidden folders, virtualenvs and build output skipped."""
    for here, dirs, names in os.walk(root):
        folder = Path(here)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in _SKIP and not (folder / d / "pyvenv.cfg").exists()
        )
        parts = folder.relative_to(root).parts
        kind = next((FOLDERS[p] for p in reversed(parts) if p in FOLDERS), None)
        for name in sorted(names):
            path = folder / name
            if (kind == TEST and name.endswith(".py")) or (
                kind not in (None, TEST) and name.endswith((".py", ".md", ".rst"))
            ):
                yield kind, path
            elif kind is None and name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                yield TEST, path


def files(root: Path) -> list[tuple[str, Path]]:
    """Every place to look, in the finder's order: tests, examples, docs, then README files."""
    found = list(_walk(root))
    order = {TEST: 0, EXAMPLE: 1, DOCS: 2}
    found.sort(key=lambda item: (order[item[0]], str(item[1])))
    readmes = sorted(p for p in root.iterdir() if p.is_file() and p.name.lower().startswith("readme"))
    return found + [(README, p) for p in readmes]


def read_text(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _undoctest(code: str) -> str:
    """`>>> x = 1` / `... y` prompts kept as code, their output lines dropped."""
    if ">>>" not in code:
        return code
    out = []
    for line in code.splitlines():
        stripped = line.lstrip()
        if stripped.startswith((">>> ", "... ")) or stripped in (">>>", "..."):
            out.append(stripped[4:])
    return "\n".join(out) + "\n"


def python_blocks(path: Path, text: str) -> list[tuple[int, str]]:
    """(line before the block's first line, code) of each Python piece of a file: the whole
    file for .py, fenced ```python blocks for Markdown, code-block:: python for reST."""
    if path.suffix == ".py":
        return [(0, text)]
    blocks = []
    if path.suffix == ".rst":
        for m in _RST.finditer(text):
            start = m.end()
            lines = text[start:].splitlines()
            body = []
            indent = None
            for line in lines:
                if not line.strip():
                    body.append("")
                    continue
                current = len(line) - len(line.lstrip())
                if indent is None:
                    if current <= len(m.group("indent")):
                        break
                    indent = current
                elif current < indent:
                    break
                body.append(line[indent:])
            while body and not body[-1]:
                body.pop()
            first = text.count("\n", 0, start)
            leading = next((i for i, line in enumerate(body) if line), 0)
            blocks.append((first + leading, _undoctest("\n".join(body[leading:]) + "\n")))
        return blocks
    for m in _FENCE.finditer(text):
        first = text.count("\n", 0, m.start("code"))
        blocks.append((first, _undoctest(m.group("code"))))
    return blocks
