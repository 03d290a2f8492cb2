"""The parent side of the runner: start a child process per task (or a worker that runs
several, Task.reuse), at most `jobs` at a time, wait for a message, an exit or a deadline,
and turn each into an Outcome.

Process model (the measurements behind each choice are in bench/NOTES.md):
- One task, in a process that has not imported torch (the CLI): fork this process. It holds
  only typer and paraminspect's CLI, so the fork is cheap and the child imports what the
  model needs; nothing is paid twice. The CLI may fork that process when it starts (a
  spare, runner.spare), so that torch's import overlaps the argument parsing; run_many
  hands the spare the task instead of forking.
- Several tasks, or a caller that has imported torch: fork from multiprocessing's fork
  server, which imports the caller's `server_preload` once (torch, timm for timm names, and
  a warm-up that checks small models, so that children start warm). A task without `reuse`
  gets a fresh process of its own, forked from the server in a few ms, instead of each
  worker importing torch. Forking the caller instead is not safe once torch has run an
  OpenMP region: a forked child's first parallel op hangs (reproduced: a matmul in the
  parent, then one in a forked child, never returns).
- Tasks marked `reuse` (a library's registered models in a sweep) run one after another in
  a worker forked from the server, which answers each and takes the next, until a task
  leaves the process changed (runner.state) or it has run WORKER_TASKS: a fork and an exit
  cost the page tables of the server's heap, and a fresh process's first model runs slower
  than a warm one. A task that crashes, hangs or exits takes only its worker with it, as a
  process of its own would.
- Not pebble (DESIGN.md's first choice): its pool drops a worker that ends with exit status 0
  before answering (`inspect_workers` keeps only non-zero exit codes), so a factory that
  calls os._exit(0) leaves its task waiting for the timeout instead of failing at once; its
  workers share one task channel and ignore SIGINT; and per-task capture of output, process
  groups and the fork-server preload would all be layered on top. What is needed here is one
  process per task and a wait() over pipes and sentinels, which is this file.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from paraminspect.collector import collector_paused
from paraminspect.errors import Terminated
from paraminspect.runner import strays
from paraminspect.runner.task import (
    DEFAULT_TIMEOUT,
    ENDED,
    INTERRUPTED,
    OUTPUT_LIMIT,
    TIMEOUT,
    Outcome,
    Task,
    validate_timeout,
)

# The fork server imports the caller's `server_preload` between these two: the collector
# stays paused while it does (runner.server_start), then what was imported is frozen.
SERVER_FIRST = "paraminspect.runner.server_start"
SERVER_LAST = "paraminspect.runner.server_ready"


@dataclass
class _Running:
    index: int
    task: Task
    process: Any
    conn: Any
    capture: str
    deadline: float
    kept: bool = False  # the child answered and takes another task (a worker, Task.reuse)
    fresh: bool = False  # a spare that has run nothing yet: it takes any task (runner.spare)


def resolve_timeout(value: float | None) -> float:
    """--timeout, else [tool.paraminspect] timeout, else DEFAULT_TIMEOUT."""
    if value is not None:
        return validate_timeout(value)
    from paraminspect.config import load_config

    return load_config().timeout or DEFAULT_TIMEOUT


def resolve_jobs(jobs: int | None, models: int, registry: bool, oversubscribe: bool) -> tuple[int, str | None]:
    """-j, and a note when it was lowered: 1 or more; at most the number of cores unless
    --oversubscribe (each model process holds torch, ~0.5 GB); default 1, or the cores for
    a registry run."""
    from paraminspect.errors import UsageError

    cores = os.cpu_count() or 1
    if jobs is None:
        return (cores if registry else 1), None
    if jobs < 1:
        raise UsageError(f"-j/--jobs must be 1 or more, got {jobs}")
    if jobs > cores and not oversubscribe:
        note = f"-j {jobs} is more than the {cores} cores: running {cores} at a time (--oversubscribe for more)"
        return cores, note if models > cores else None
    return jobs, None


def _context(
    tasks: Sequence[Task], preload: Sequence[str], server: bool, server_preload: Sequence[str] | None = None
) -> Any:
    if len(tasks) == 1 and not server and "torch" not in sys.modules:
        return multiprocessing.get_context("fork")
    ctx = multiprocessing.get_context("forkserver")
    imports = preload if server_preload is None else server_preload
    # read at server start (a server already running keeps what it imported)
    ctx.set_forkserver_preload(list(dict.fromkeys([SERVER_FIRST, *imports, SERVER_LAST])))
    _start_server()
    return ctx


HUGE_PAGE_MALLOC = "glibc.malloc.hugetlb=1"


def _start_server() -> None:
    """Start the fork server (once per process; later calls find it running) with glibc's
    malloc asking for transparent huge pages. Each fork copies the page tables of the
    server's ~400 MB of heap (torch, timm), and that copy, and the child's teardown at its
    exit, is most of what a model's process costs beyond the model itself; a 2 MB page
    needs one entry where 4 KB pages need 512. Only the server's start sees the setting:
    the children get the caller's environment back (child.isolate)."""
    from multiprocessing import forkserver

    saved = os.environ.get("GLIBC_TUNABLES")
    if saved is None or "glibc.malloc.hugetlb" not in saved:
        os.environ["GLIBC_TUNABLES"] = f"{saved}:{HUGE_PAGE_MALLOC}" if saved else HUGE_PAGE_MALLOC
    try:
        forkserver.ensure_running()
    finally:
        if saved is None:
            os.environ.pop("GLIBC_TUNABLES", None)
        else:
            os.environ["GLIBC_TUNABLES"] = saved


@contextmanager
def _signals_end_children() -> Iterator[None]:
    """SIGTERM/SIGHUP raise Terminated in the main thread, so that the `finally` that ends
    the children runs (SIGINT already raises KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: Any) -> None:
        raise Terminated(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _kill(running: _Running) -> None:
    """SIGKILL the child's process group (the child and whatever it forked)."""
    pid = running.process.pid
    if pid is not None:
        try:
            os.killpg(pid, signal.SIGKILL)  # before reaping: the group id cannot be reused yet
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.kill(pid, signal.SIGKILL)  # the child had no time to make its group yet
        except (ProcessLookupError, PermissionError):
            pass


def _end(running: _Running) -> None:
    """Kill the child's process group and reap the child."""
    _kill(running)
    running.process.join()
    running.conn.close()


def _retire(worker: _Running, exiting: list[_Running]) -> None:
    """End an idle worker; reaped later, like an answered child."""
    _kill(worker)
    exiting.append(worker)


def _reaped(running: _Running) -> bool:
    """Reap a killed child if it has gone (without waiting); whether it has."""
    running.process.join(0)
    if running.process.exitcode is None:
        return False
    running.conn.close()
    return True


def _read_output(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read(OUTPUT_LIMIT + 1)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return ""
    text = data[:OUTPUT_LIMIT].decode("utf-8", errors="backslashreplace")
    if size > OUTPUT_LIMIT:
        text += f"\n[... {size - OUTPUT_LIMIT:,} more bytes of output cut]\n"
    return text


def _ended_message(label: str, exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"{label} crashed its process ({name}) before returning a result"
    return (
        f"{label} ended its process with exit status {exitcode} before returning a result "
        "(os._exit, or sys.exit in a thread?)"
    )


class SourceWatch:
    """What the children started inside watch_sources() read: `files` (their imported
    source files and the files they opened for reading, for -o's guard), `reads` (one
    record per child, paraminspect.reads), and whether every child sent one (`complete`)."""

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.reads: list[Any] = []
        self.complete = True

    def add(self, sources: Sequence[str], reads: Any) -> None:
        self.files.update(sources)
        if reads is None:
            self.complete = False
            return
        self.files.update(f[0] for f in reads.get("files", ()))
        self.reads.append(reads)


# What every child started since watch_sources() began read (None: nobody watches).
_watched: SourceWatch | None = None


@contextmanager
def watch_sources() -> Iterator[SourceWatch]:
    """Collect what the children started inside the block read (the result cache watches
    it, -o may not overwrite it); children started outside it skip the work."""
    global _watched
    previous, _watched = _watched, SourceWatch()
    try:
        yield _watched
    finally:
        if previous is not None:  # an outer watch sees what the inner one saw
            previous.files.update(_watched.files)
            previous.reads.extend(_watched.reads)
            previous.complete = previous.complete and _watched.complete
        _watched = previous


def _where() -> dict[str, Any]:
    # A fork-server child starts from the server's state: give it the caller's working
    # directory, environment and import path as they are now.
    return {"cwd": os.getcwd(), "env": dict(os.environ), "path": list(sys.path)}


def _start(ctx: Any, index: int, task: Task, folder: str, timeout: float, preload: Sequence[str]) -> _Running:
    """A process for `task`; forked from this process, it imports `preload` first (a fork
    server's children have it already)."""
    from paraminspect.runner.child import child_main

    parent_conn, child_conn = ctx.Pipe(duplex=task.reuse)
    capture = os.path.join(folder, f"{index}.out")
    imports = tuple(preload) if ctx.get_start_method() == "fork" else ()
    args = (task, child_conn, capture, _where(), _watched is not None, imports)
    process = ctx.Process(target=child_main, args=args, daemon=False)
    process.start()
    child_conn.close()
    return _Running(index, task, process, parent_conn, capture, time.monotonic() + timeout)


def _spare_for(ctx: Any) -> _Running | None:
    """The CLI's spare process (runner.spare) for a run forked from this process; for a
    fork-server run it is of no use and is killed."""
    from paraminspect.runner import spare

    if ctx.get_start_method() != "fork":
        spare.discard()
        return None
    taken = spare.take()
    if taken is None:
        return None
    process, conn = taken
    return _Running(-1, Task(""), process, conn, "", math.inf, fresh=True)


def _hand(
    worker: _Running, index: int, task: Task, folder: str, timeout: float, preload: Sequence[str]
) -> _Running | None:
    """Give an idle worker its next task (and what to import for it: a spare forked from this
    process has only torch); None when it has gone meanwhile."""
    capture = os.path.join(folder, f"{index}.out")
    try:
        worker.conn.send((task, capture, _where(), _watched is not None, tuple(preload)))
    except (OSError, ValueError):
        return None
    return _Running(index, task, worker.process, worker.conn, capture, time.monotonic() + timeout)


def _finish(running: _Running, timed_out: bool, timeout: float) -> Outcome:
    message: Any = None
    if not timed_out and running.conn.poll():
        try:
            with collector_paused():  # tens of thousands of records, no cycles among them
                message = running.conn.recv()
        except (EOFError, OSError):
            message = None
    label = running.task.label
    if message is not None:
        status, value, text, trace, sources, reads, retire = message
        # The child flushed its output before it answered. Its exit (tearing down a copy of
        # the server's memory) need not hold up the next model: run_many reaps it later.
        running.kept = not retire
        if retire:
            _kill(running)
        if _watched is not None:
            _watched.add(sources, reads)
        output = _read_output(running.capture)
        return Outcome(label, status, value, text, output, trace, 0, tuple(sources))
    _end(running)
    if _watched is not None:
        _watched.complete = False  # it ended without saying what it read
    output = _read_output(running.capture)
    exitcode = running.process.exitcode
    if timed_out:
        return Outcome(label, TIMEOUT, message=f"{label} timed out after {timeout:g} s (--timeout)", output=output)
    if exitcode == -signal.SIGINT:
        return Outcome(label, INTERRUPTED, message="interrupted", output=output, exitcode=exitcode)
    return Outcome(label, ENDED, message=_ended_message(label, exitcode), output=output, exitcode=exitcode)


def run_many(
    tasks: Sequence[Task],
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
    preload: Sequence[str] = (),
    on_outcome: Callable[[Outcome], None] | None = None,
    server: bool = False,
    server_preload: Sequence[str] | None = None,
) -> list[Outcome]:
    """Run every task in a child process of its own, at most `jobs` at a time; outcomes in
    the order of `tasks`. Each task gets `timeout` seconds from its start. KeyboardInterrupt
    and Terminated (SIGTERM/SIGHUP) end every child before they propagate.

    `preload`: what a child forked from this process imports before its task (a fork
    server's children have it already); `server_preload`: what the fork server imports
    once when it starts (default: `preload`); `server`: use the fork server even for one
    task (more tasks that need the same imports will follow)."""
    from paraminspect.errors import UsageError

    if not tasks:
        return []
    if jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, got {jobs}")
    timeout = validate_timeout(timeout)
    strays.become_subreaper()  # orphans of the models become ours, to be ended (runner.strays)
    before = strays.children()
    ctx = _context(tasks, preload, server, server_preload)
    spare = _spare_for(ctx)
    outcomes: list[Outcome | None] = [None] * len(tasks)
    pending = list(enumerate(tasks))
    pending.reverse()  # pop() from the end keeps the given order
    running: list[_Running] = []
    idle: list[_Running] = [spare] if spare else []  # workers waiting for a task (Task.reuse)
    exiting: list[_Running] = []  # answered and killed, not reaped yet
    folder = tempfile.mkdtemp(prefix="paraminspect-")
    try:
        with _signals_end_children():
            while pending or running:
                left = len(exiting)
                exiting[:] = [item for item in exiting if not _reaped(item)]
                if len(exiting) < left:  # a model's process ended: end what it left running
                    strays.end_orphans(before | {i.process.pid for i in running + idle + exiting})
                while pending and len(running) < jobs:
                    index, task = pending.pop()
                    handed = None
                    while idle and handed is None and (task.reuse or idle[-1].fresh):
                        worker = idle.pop()
                        handed = _hand(worker, index, task, folder, timeout, preload)
                        if handed is None:  # it went while idle
                            _retire(worker, exiting)
                    if handed is None:
                        if idle and len(running) + len(idle) >= jobs:
                            _retire(idle.pop(0), exiting)  # a fresh process takes its place
                        handed = _start(ctx, index, task, folder, timeout, preload)
                    running.append(handed)
                now = time.monotonic()
                pause = max(0.0, min(r.deadline for r in running) - now)
                ready = set(wait([r.conn for r in running] + [r.process.sentinel for r in running], pause))
                now = time.monotonic()
                for item in list(running):
                    done = item.conn in ready or item.process.sentinel in ready
                    if not done and now < item.deadline:
                        continue
                    running.remove(item)
                    outcome = _finish(item, timed_out=not done, timeout=timeout)
                    if item.kept:
                        idle.append(item)
                    elif not item.conn.closed:  # answered: killed, reaped later (_finish)
                        exiting.append(item)
                    outcomes[item.index] = outcome
                    if on_outcome is not None:
                        on_outcome(outcome)
    finally:
        for item in running + idle + exiting:
            _end(item)
        strays.end_orphans(before)
        strays.end_marked(keep=before | strays.helpers())
        shutil.rmtree(folder, ignore_errors=True)
    return [o for o in outcomes if o is not None]


def run_one(
    task: Task,
    timeout: float = DEFAULT_TIMEOUT,
    preload: Sequence[str] = (),
    server: bool = False,
    server_preload: Sequence[str] | None = None,
) -> Outcome:
    """Run one task in a child process (see run_many)."""
    return run_many([task], 1, timeout, preload, server=server, server_preload=server_preload)[0]
