"""discover_classes in a child process of the shared runner (forked from its fork server,
which imported torch once for the class checks that follow): the CLI never imports the
user's files. A crash, an exit or a timeout becomes one LoadError line."""

from __future__ import annotations

from typing import Any

from paraminspect.errors import LoadError, UsageError


def run_discovery(kwargs: dict[str, Any], timeout: float) -> tuple[Any, str]:
    """discover_classes(**kwargs) in a child: its Discovery and what the files printed."""
    from paraminspect.discover.classes import TARGET
    from paraminspect.runner import ERROR, Task, run_one

    outcome = run_one(Task(TARGET, kwargs, label="finding module classes"), timeout, server=True)
    if outcome.ok:
        return outcome.value, outcome.output
    raise (UsageError if outcome.status == ERROR else LoadError)(outcome.message)
