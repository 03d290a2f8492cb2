"""Build an instance from an ArgSource. Runs the user's code: call it in a child process
only (the CLI never imports user code); imports nothing itself."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from typing import Any

from paraminspect.static.args.model import ArgSource


def prepare(source: ArgSource) -> Callable[[], Any]:
    """Put the snippet's import roots first on sys.path and run its leading imports now (a
    module's import-time code is not the model's construction: the caller builds under its
    own device context), then return what runs the rest of the snippet and evaluates the
    expression."""
    for folder in reversed(source.sys_path):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    where = f"<arguments from {source.where}>"
    body = ast.parse(source.snippet, where).body
    first = next((i for i, st in enumerate(body) if not isinstance(st, (ast.Import, ast.ImportFrom))), len(body))
    namespace: dict[str, Any] = {"__name__": "__paraminspect_args__"}
    exec(compile(ast.Module(body[:first], []), where, "exec"), namespace)
    rest = compile(ast.Module(body[first:], []), where, "exec")
    expression = compile(source.expression, where, "eval")

    def build() -> Any:
        exec(rest, namespace)
        return eval(expression, namespace)

    return build


def build(source: ArgSource) -> Any:
    """exec the snippet (its import roots first on sys.path), then eval the expression."""
    return prepare(source)()
