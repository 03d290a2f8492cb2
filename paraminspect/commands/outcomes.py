"""A runner Outcome read one way by every command: the value, a failed result's one line, or
the error that ends the command. An interrupted child (Ctrl-C, or a KeyboardInterrupt raised
by the model) is a KeyboardInterrupt here too, so the command ends with "interrupted", 130."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from paraminspect.errors import LoadError, ParamInspectError, UsageError
from paraminspect.runner.task import ERROR, INTERNAL, INTERRUPTED, Outcome, Task


class ChildError(ParamInspectError):
    """A task in a child process failed; its traceback (if any) was shown there."""


def bug_message(text: str) -> str:
    """How paraminspect names an error of its own (never a user's)."""
    return f"internal error: {text} (a paraminspect bug; rerun with --debug for the traceback)"


def failure_line(outcome: Outcome) -> str:
    """The one line saying why a task failed; KeyboardInterrupt for an interrupted one."""
    if outcome.status == INTERRUPTED:
        raise KeyboardInterrupt
    return bug_message(outcome.message) if outcome.status == INTERNAL else outcome.message


def value_of(outcome: Outcome) -> Any:
    """The task's value; a failed task raises UsageError (bad input) or LoadError."""
    if outcome.ok:
        return outcome.value
    line = failure_line(outcome)
    raise (UsageError if outcome.status == ERROR else LoadError)(line)


def run_in_children(
    tasks: Sequence[Task],
    jobs: int,
    timeout: float,
    preload: Sequence[str],
    on_outcome: Callable[[Outcome], None] | None = None,
    server: bool = False,
) -> list[Outcome]:
    """runner.run_many with the commands' preload lists: `preload` for a child forked from
    this process, startup.server_preload(preload) for the fork server."""
    from paraminspect.commands.startup import server_preload
    from paraminspect.runner import run_many

    _note_network_limit()
    return run_many(
        tasks, jobs, timeout, preload, on_outcome=on_outcome, server=server, server_preload=server_preload(preload)
    )


_noted: list[bool] = []


def _note_network_limit() -> None:
    """Once per process, where the kernel cannot refuse the network to the model processes,
    a note saying what still can reach it (docs/runtime.md)."""
    if _noted:
        return
    _noted.append(True)
    from paraminspect.runner.seccomp import supported

    why = supported()
    if why is not None:
        from paraminspect.commands.output import notify

        notify(
            f"{why}: only Python's own sockets are refused to the model's code; ctypes, C extensions "
            "and subprocesses can still reach the network"
        )


def run_in_child(task: Task, timeout: float, preload: Sequence[str], server: bool = False) -> Outcome:
    """One task (see run_in_children). `server`: from the fork server even so, because more
    tasks will follow that need the same imports (a sweep's glob expansion: the server
    imports timm once for the expansion and every model after it)."""
    return run_in_children([task], 1, timeout, preload, server=server)[0]


def in_child(task: Task, timeout: float, preload: Sequence[str], invocation: Any) -> Any:
    """Run a runner Task in a child process; its value, or the ChildError that ends the command
    (the child's traceback shown under --debug: `invocation`, an arguments.Invocation)."""
    from paraminspect.commands.output import model_output

    outcome = run_in_child(task, timeout, preload)
    model_output(outcome.output)
    if outcome.ok:
        return outcome.value
    if invocation.debug and outcome.traceback:
        sys.stderr.write(outcome.traceback)
    raise ChildError(failure_line(outcome))


def fetch_hub_configs(specs: Sequence[str]) -> None:
    """The config.json of each `hf:ORG/NAME` not yet cached, downloaded here (model processes
    have no network), or a LoadError saying why not (loaders.hf.fetch_configs). Other specs
    import nothing."""
    from paraminspect.forms import HF_PREFIX

    wanted = [spec for spec in specs if spec.startswith(HF_PREFIX)]
    if wanted:
        from paraminspect.loaders.hf import fetch_configs

        fetch_configs(wanted)
