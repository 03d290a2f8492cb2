"""Build an instance from an ArgSource. Runs the user's code: call it in a child process
only (the CLI never imports user code); imports nothing itself."""

from __future__ import annotations

import sys
from typing import Any

from paraminspect.static.args.model import ArgSource


def build(source: ArgSource) -> Any:
    """exec the snippet (its import roots first on sys.path), then eval the expression."""
    for folder in reversed(source.sys_path):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    namespace: dict[str, Any] = {"__name__": "__paraminspect_args__"}
    exec(compile(source.snippet, f"<arguments from {source.where}>", "exec"), namespace)
    return eval(compile(source.expression, f"<arguments from {source.where}>", "eval"), namespace)
