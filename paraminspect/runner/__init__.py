"""Run user code in child processes: one model or many, with a timeout, captured output and
every way a child can end turned into an Outcome.

    from paraminspect.runner import Task, run_one, run_many

    outcome = run_one(Task("paraminspect.runner.tasks:check_task", {"spec": "m.py:build"}, label="m.py:build"))
    if outcome.ok:
        result = outcome.value          # what the target returned, plain data
    else:
        print(outcome.status, outcome.message)  # error / internal / ended / timeout / interrupted

A Task names a function (`"pkg.mod:func"`) that only the child imports, its keyword
arguments and a label; any helper can add a task kind by writing such a function (it must
return plain picklable data whose classes import without torch or user code). The caller
(the CLI) never imports the model's code: it owns stdout and output files and renders what
comes back. See paraminspect.runner.parent for the process model and why.
"""

from __future__ import annotations

from paraminspect.errors import Terminated
from paraminspect.runner.parent import resolve_jobs, resolve_timeout, run_many, run_one, watch_sources
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
