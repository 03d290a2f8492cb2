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

Linux only (fork, and PR_SET_PDEATHSIG for a CLI that dies first), and only for the
commands and arguments that can use it; PARAMINSPECT_NO_SPARE=1 turns it off.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

COMMANDS = ("show", "check", "diff")
_TORCH_FREE_SUFFIXES = (".safetensors", ".index.json")  # listed by the CLI itself
_NOT_A_MODEL_RUN = {"-h", "--help", "--version", "--weights", "--show-completion", "--install-completion"}

_spare: Any = None  # (process, connection) while a spare waits for its task


def wanted(argv: Sequence[str]) -> bool:
    """Whether this command line will likely run one model in a child process."""
    if not sys.platform.startswith("linux") or os.environ.get("PARAMINSPECT_NO_SPARE"):
        return False
    if not argv or argv[0] not in COMMANDS:
        return False
    for arg in argv[1:]:
        if arg in _NOT_A_MODEL_RUN or any(c in arg for c in "*?["):  # help, or a sweep (fork server)
            return False
        if argv[0] == "show" and arg.lower().endswith(_TORCH_FREE_SUFFIXES):
            return False
    return True


def start(argv: Sequence[str]) -> None:
    """Fork the spare when `argv` (without the program name) can use it."""
    global _spare
    if _spare is not None or not wanted(argv):
        return
    import multiprocessing

    from paraminspect.runner.child import spare_main
    from paraminspect.runner.task import MODEL_PROCESS_PRELOAD

    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=True)
    process = ctx.Process(target=spare_main, args=(child_conn, MODEL_PROCESS_PRELOAD), daemon=False)
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
