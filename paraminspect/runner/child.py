"""The child side of the runner: isolate the process, run a Task, send its answer back (a
worker process then takes the next one: Task.reuse).

Runs in a process forked from the CLI (or from the runner's fork server). Everything user
code can touch is replaced before the task runs: stdin is /dev/null, stdout and stderr go to
a capture file that the parent shows (marked as the model's output), SIGINT/SIGTERM are the
default ones (even when the parent was started with SIGINT ignored), the process leads its
own process group (the parent kills the group, so processes the model forked end with it),
and network connections are refused in every thread.
"""

from __future__ import annotations

import importlib
import io
import os
import signal
import sys
import traceback
from typing import Any

from paraminspect.collector import import_paused
from paraminspect.errors import exception_line
from paraminspect.reads import begin_task
from paraminspect.runner.task import ERROR, INTERNAL, INTERRUPTED, OK, Task


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent goes (the CLI, or the fork server, which
    itself ends with the CLI), so that a killed parent leaves no model running."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _text_stream(fd: int) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )


def isolate_process() -> None:
    """What holds for the process's whole life: default signals, its own process group,
    death with its parent, no stdin, no network; what it reads is recorded (paraminspect.reads)."""
    from paraminspect import reads

    reads.start_process()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    import faulthandler

    faulthandler.disable()  # a caller's (pytest's) handler would write a crash to the caller's stderr
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    _die_with_parent()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    from paraminspect.loaders.guard import refuse_network
    from paraminspect.runner.seccomp import install

    refuse_network()  # Python's sockets, with a clear message
    install()  # the kernel's filter: raw sockets, C code, subprocesses (where the platform has it)


def start_task(capture_path: str, where: dict[str, Any] | None = None) -> None:
    """What each task gets afresh: the caller's working directory, environment and sys.path,
    and stdout/stderr going to the task's own capture file."""
    if where is not None:
        os.chdir(where["cwd"])
        if dict(os.environ) != where["env"]:
            os.environ.clear()
            os.environ.update(where["env"])
        sys.path[:] = where["path"]
    capture = os.open(capture_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(capture, 1)
    os.dup2(capture, 2)
    os.close(capture)
    sys.stdout = sys.__stdout__ = _text_stream(1)
    sys.stderr = sys.__stderr__ = _text_stream(2)


def run_task(task: Task) -> tuple[str, Any, str, str]:
    """(status, value, message, traceback) of running the task here."""
    from paraminspect.errors import ParamInspectError

    try:
        module_name, _, attr = task.target.partition(":")
        function = getattr(importlib.import_module(module_name), attr)
        return OK, function(**task.kwargs), "", ""
    except ParamInspectError as exc:
        return ERROR, None, str(exc), traceback.format_exc()
    except KeyboardInterrupt:
        return INTERRUPTED, None, "interrupted", traceback.format_exc()
    except BaseException as exc:
        return INTERNAL, None, exception_line(exc), traceback.format_exc()


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):  # before answering: the parent reads the output then
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _what_was_read(watch: bool) -> tuple[tuple[str, ...], Any]:
    """The task's recording ended (paraminspect.reads); with `watch`, the source files
    imported and what the task read (for the result cache), else nothing."""
    from paraminspect import reads

    if not watch:
        reads.end_task()
        return (), None
    sources = tuple(reads.imported_sources())
    return sources, reads.end_task(sources)


def _send(conn: Any, message: tuple[Any, ...], read: tuple[tuple[str, ...], Any], retire: bool) -> None:
    """Send (status, value, message, traceback, sources, reads, retire)."""
    _flush_output()
    try:
        conn.send((*message, *read, retire))
    except Exception as exc:  # an unpicklable value: a paraminspect bug, reported as such
        line = f"the result could not be sent back: {exception_line(exc)}"
        conn.send((INTERNAL, None, line, "", (), None, True))


def _failed_setup(exc: BaseException) -> tuple[str, Any, str, str]:
    return INTERNAL, None, exception_line(exc), traceback.format_exc()


WORKER_TASKS = 250  # tasks a worker runs before it retires (what models leak stays bounded)
WORKER_GROWTH = 1024**3  # bytes of resident memory a worker may gain before it retires


def child_main(
    task: Task,
    conn: Any,
    capture_path: str,
    where: dict[str, Any] | None = None,
    watch: bool = False,
    preload: tuple[str, ...] = (),
) -> None:
    """The process target: isolate, import `preload` (collector.import_paused), run `task`,
    send its answer. A task of its own ends the process then, with os._exit (tearing down
    an interpreter that imported torch costs time for nothing); a Task.reuse task makes it a
    worker that, while it is as it was before its first task (runner.state), takes the next
    (task, capture_path, where, watch, preload) from `conn`. The answer's `retire` says this
    process takes no more; None from the parent ends it too."""
    try:
        isolate_process()
    except BaseException as exc:  # isolation itself failed: still say why
        _send(conn, _failed_setup(exc), ((), None), retire=True)
        os._exit(0)
    _serve(conn, (task, capture_path, where, watch, preload))


def spare_main(conn: Any, preload: tuple[str, ...]) -> None:
    """The process target of a spare (runner.spare): isolated and with `preload` imported
    before the CLI knows its task, then a worker from its first task on."""
    import tempfile

    try:
        isolate_process()
        # Not the CLI's stdout/stderr (a pipe held open would keep a reader waiting): what
        # the imports print is kept, and shown as the first task's output.
        early = tempfile.TemporaryFile()  # noqa: SIM115 - read and closed at the first task
        os.dup2(early.fileno(), 1)
        os.dup2(early.fileno(), 2)
        import_paused(preload)
    except BaseException:
        os._exit(0)  # the parent hands its task to a fresh process instead
    first = _next_task(conn)
    _flush_output()
    try:
        early.seek(0)
        with open(first[1], "ab") as capture:
            capture.write(early.read())
        early.close()
    except OSError:
        pass
    _serve(conn, first)


def _next_task(conn: Any) -> tuple[Any, ...]:
    """The next (task, capture_path, where, watch, preload) from the parent; its end, or
    None from it, ends this process."""
    try:
        following = conn.recv()
    except (EOFError, OSError):
        os._exit(0)
    if following is None:
        os._exit(0)
    return following


def _serve(conn: Any, first: tuple[Any, ...]) -> None:
    from paraminspect.runner.state import process_state, resident_bytes

    task, capture_path, where, watch, preload = first
    # a task of its own (not Task.reuse) is this process's only one: nothing to compare then
    before, memory, served = process_state() if task.reuse else None, resident_bytes(), 0
    while True:
        try:
            start_task(capture_path, where)
            begin_task()  # after start_task: restoring the environment is no read of the task's
            import_paused(preload)  # what this task needs beyond what the process has
            message = run_task(task)
        except BaseException as exc:
            message = _failed_setup(exc)
        served += 1
        read = _what_was_read(watch)  # before the state is compared: the recording is part of it
        retire = (
            not task.reuse  # a task of its own that a spare ran
            or message[0] == INTERRUPTED
            or served >= WORKER_TASKS
            or resident_bytes() - memory > WORKER_GROWTH
            or before is None
            or before.changed()
        )
        _send(conn, message, read, retire)
        if retire:
            os._exit(0)
        task, capture_path, where, watch, preload = _next_task(conn)
