"""Run user code in child processes: one model or many, with a timeout, captured output and
every way a child can end turned into an Outcome.

    from paraminspect.runner import Task, run_one, run_many

    outcome = run_one(Task("paraminspect.commands.check:check_in_child", {"spec": "m.py:build"}, label="m.py:build"))
    if outcome.ok:
        result = outcome.value          # what the target returned, plain data
    else:
        print(outcome.status, outcome.message)  # error / internal / ended / timeout / interrupted

A Task names a function (`"pkg.mod:func"`) that only the child imports, its keyword
arguments and a label; any helper can add a task kind by writing such a function (it must
return plain picklable data whose classes import without torch or user code). The caller
(the CLI) never imports the model's code: it owns stdout and output files and renders what
comes back. See paraminspect.runner.parent for the process model and why.

The runner is generic: the targets, and what child processes and the fork server import
first (`preload`, `server_preload`), come from the caller (paraminspect.commands); it
imports no renderer and names none of the app's modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paraminspect.errors import Terminated
from paraminspect.runner.task import (
    DEFAULT_TIMEOUT,
    ENDED,
    ERROR,
    INTERNAL,
    INTERRUPTED,
    OK,
    OUTPUT_LIMIT,
    TIMEOUT,
    Outcome,
    Task,
    validate_timeout,
)

if TYPE_CHECKING:
    from paraminspect.runner.parent import resolve_jobs, resolve_timeout, run_many, run_one, watch_sources

# Imported on first use: `paraminspect.runner.spare`, which paraminspect.__main__ imports for
# every command, and `runner.task` stay free of multiprocessing and the parent's machinery.
_FROM_PARENT = ("resolve_jobs", "resolve_timeout", "run_many", "run_one", "watch_sources")


def __getattr__(name: str) -> Any:
    if name in _FROM_PARENT:
        from paraminspect.runner import parent

        return getattr(parent, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_TIMEOUT",
    "ENDED",
    "ERROR",
    "INTERNAL",
    "INTERRUPTED",
    "OK",
    "OUTPUT_LIMIT",
    "TIMEOUT",
    "Outcome",
    "Task",
    "Terminated",
    "resolve_jobs",
    "resolve_timeout",
    "run_many",
    "run_one",
    "validate_timeout",
    "watch_sources",
]
