"""A spare model process, forked when the CLI starts, that imports torch while the CLI
imports typer and parses its arguments.

A `show` or `check` of one model spends its first ~0.2 s in the CLI (typer, the command
line, the config) before the runner forks the model's process, which then imports torch
(2-3 s). `start()`, called first thing by paraminspect.__main__, forks that process at
once: it isolates itself (runner.child.isolate_process), imports torch and the stages, and
waits for its task; run_many hands it the task instead of forking (the task's own process,
so nothing is shared). When the command needs no model process after all (the result
cache answered, a safetensors header, a usage error, a sweep's fork server), the spare is
killed: at worst it spent a fraction of a torch import on an otherwise idle core.

Linux only (fork, and PR_SET_PDEATHSIG for a CLI that dies first). Which command lines
can use it, and what it imports, the caller says (paraminspect.commands.startup).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from typing import Any

_spare: Any = None  # (process, connection) while a spare waits for its task


def start(preload: Sequence[str]) -> None:
    """Fork the spare (once), which imports `preload` and waits for its task."""
    global _spare
    if _spare is not None:
        return
    import multiprocessing

    from paraminspect.runner.child import spare_main

    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=True)
    process = ctx.Process(target=spare_main, args=(child_conn, tuple(preload)), daemon=False)
    try:
        process.start()
    except OSError:
        return  # no spare: the runner forks as it always did
    child_conn.close()
    _spare = (process, parent_conn)


def take() -> tuple[Any, Any] | None:
    """The spare's (process, connection), once, if it is still alive."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None and spare[0].exitcode is None:
        return spare
    if spare is not None:
        spare[1].close()
    return None


def discard() -> None:
    """Kill the spare if nobody took it (the command is over, or it runs no model)."""
    spare = take()
    if spare is None:
        return
    process, conn = spare
    conn.close()  # it was waiting for a task: EOF would end it too
    try:
        os.kill(process.pid, signal.SIGKILL)  # not reaped: the CLI is about to exit, or a
    except (ProcessLookupError, PermissionError):  # sweep's run_many reaps nothing of it
        pass
