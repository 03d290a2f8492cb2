"""Plain data of the argument finder: how to build a class that needs arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Where the arguments came from, in the order the finder prefers them.
ARGS_TABLE, CONFIG_CLASS, TEST, EXAMPLE, DOCS, README, MAIN = (
    "args-table", "config-class", "test", "example", "docs", "readme", "main",
)  # fmt: skip
KINDS = (ARGS_TABLE, CONFIG_CLASS, TEST, EXAMPLE, DOCS, README, MAIN)


@dataclass(frozen=True)
class ArgSource:
    """A way to build one class. `snippet` is self-contained Python (imports of the project
    names it uses, by their defining modules, then only the extracted calls bound to names);
    `expression` yields the instance once the snippet ran:

        namespace = {}
        exec(snippet, namespace)            # with `sys_path` first on sys.path
        model = eval(expression, namespace)

    `kind`: one of KINDS; `file`/`line`: where the arguments were found (the pyproject.toml
    entry, the config class, the call in a test, an example, a doc, the README block or a
    `__main__` block). `kwargs`: for an args-table entry given as keyword arguments, those
    (literal) arguments, for runners that call the class directly. `borrowed_from`: for a
    class whose `__init__` only passes `*args, **kwargs` on, the base (dotted) whose found
    call this is, with the class called instead (a guess: its failure is not the project's)."""

    cls: str  # "file.py:Qual.Name" (absolute file)
    kind: str
    snippet: str
    expression: str
    file: str
    line: int
    sys_path: tuple[str, ...] = ()
    kwargs: dict[str, Any] | None = None
    borrowed_from: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file
