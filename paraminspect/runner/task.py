"""The runner's plain data: what to run in a child process and what came back.

Imports nothing but the standard library, so that the parent (the CLI process) can build
tasks and read outcomes without importing torch or the user's code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT = 120.0  # seconds per task; `--timeout` or `timeout` in [tool.paraminspect]
OUTPUT_LIMIT = 256 * 1024  # bytes of a child's stdout/stderr kept for the parent to show

# How a task can end (Outcome.status).
OK = "ok"  # the target returned; Outcome.value holds what it returned
ERROR = "error"  # the target raised ParamInspectError (bad input): Outcome.message is its line
INTERNAL = "internal"  # the target raised anything else: a paraminspect bug
ENDED = "ended"  # the child process ended without a result: exit, signal, os._exit, crash
TIMEOUT = "timeout"  # the task ran past its timeout and was killed
INTERRUPTED = "interrupted"  # KeyboardInterrupt was raised inside the task (130)


@dataclass(frozen=True)
class Task:
    """One unit of user code to run in a child process.

    `target` is `"package.module:function"`: it is imported in the child only, and called
    with `kwargs` (plain picklable values). Its return value must be plain picklable data
    whose classes the parent can import without torch (no nn.Module, no tensors, no user
    classes). `label` names the task in failure messages (the MODEL spec).

    `reuse`: the task may run in a worker process that ran other such tasks before it (a
    library's registered model in a sweep: timm, transformers). The worker is retired, and
    the next task gets a fresh process, as soon as a task leaves the process changed
    (runner.state); a task without `reuse` always gets a process of its own."""

    target: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    reuse: bool = False


@dataclass(frozen=True)
class Outcome:
    """How one Task ended. `value` is set only when status is OK; otherwise `message` is one
    line saying what happened (already naming the label when it helps). `output` is what the
    child wrote to its stdout and stderr (decoded, capped at OUTPUT_LIMIT bytes): text from
    user code, to be made printable before a terminal shows it. `traceback` is the child's
    traceback text for ERROR/INTERNAL (shown under --debug)."""

    label: str
    status: str
    value: Any = None
    message: str = ""
    output: str = ""
    traceback: str = ""
    exitcode: int | None = None
    # Source files the child imported (outside the standard library and the versioned model
    # libraries), sent only while the caller watches sources for the result cache.
    sources: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == OK


def validate_timeout(timeout: float, option: str = "--timeout") -> float:
    """A positive, finite number of seconds (nan never times out; inf overflows the clock)."""
    from paraminspect.errors import UsageError

    if not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise UsageError(f"{option} must be a positive, finite number of seconds, got {timeout!r}")
    if timeout > 7 * 24 * 3600:
        raise UsageError(f"{option} must be at most a week (604800 s), got {timeout:g}")
    return float(timeout)
