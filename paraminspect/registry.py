"""Checking many models: timm glob patterns, and isolated worker processes.

`expand_specs` turns `timm:vit_*` / `timm:*` (or a bare `vit_*`) into one `timm:NAME` spec per
matching registered model. `check_many` checks specs in N worker processes: each worker
imports torch (and timm) once, then checks one model after another, so a registry of ~1,400
models pays the imports N times, not 1,400. A model that raises, kills its worker (os._exit,
a segfault) or runs past the timeout becomes a failed ModelResult and the run goes on with a
fresh worker. Plain data in and out: no printing (progress is a callback).
"""

from __future__ import annotations

import fnmatch
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from paraminspect.checking import ModelResult
from paraminspect.errors import LoadError, UsageError

TIMM_PREFIX = "timm:"
GLOB_CHARS = frozenset("*?[")
DEFAULT_TIMEOUT = 120.0
READY = "ready"


def is_glob(spec: str) -> bool:
    return any(c in GLOB_CHARS for c in spec)


def _timm_pattern(spec: str) -> str | None:
    """The name pattern of a timm glob (`timm:vit_*`, or a bare `vit_*`), else None."""
    if not is_glob(spec):
        return None
    if spec.startswith(TIMM_PREFIX):
        return spec[len(TIMM_PREFIX) :]
    if ":" in spec or "/" in spec or os.sep in spec or spec.endswith(".py"):
        return None  # a factory or file spec: globs there are not expanded
    return spec


def expand_specs(specs: Sequence[str]) -> list[str]:
    """Specs with timm globs replaced by the matching `timm:NAME` specs (in timm's order),
    duplicates dropped. A pattern with a `.` matches pretrained tags too
    (`timm:vit_*.augreg*`). A pattern that matches nothing is a UsageError."""
    from paraminspect.loaders.hf import expand_glob

    out: dict[str, None] = {}
    for spec in specs:
        classes = expand_glob(spec.strip())  # transformers:*ForCausalLM
        if classes is not None:
            out.update(dict.fromkeys(classes))
            continue
        pattern = _timm_pattern(spec.strip())
        if pattern is None:
            out.setdefault(spec, None)
            continue
        import timm

        names = timm.list_pretrained() if "." in pattern else timm.list_models()
        matches = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matches:
            raise UsageError(f"no timm model matches {spec!r}")
        for name in matches:
            out.setdefault(f"{TIMM_PREFIX}{name}", None)
    return list(out)


def needs_timm(specs: Sequence[str]) -> bool:
    """Whether any spec names a timm model (so that workers import timm up front)."""
    from paraminspect.loaders.hf import is_hf_spec
    from paraminspect.loaders.spec import split_target

    return any(s.startswith(TIMM_PREFIX) or (split_target(s) is None and not is_hf_spec(s)) for s in specs)


def preload_for(specs: Sequence[str]) -> tuple[str, ...]:
    """What workers import once, before the first model: torch, and timm or transformers'
    model base (most of a transformers model's import time) when a spec needs them."""
    from paraminspect.loaders.hf import is_hf_spec

    extra = (("timm",) if needs_timm(specs) else ()) + (
        ("transformers.modeling_utils",) if any(is_hf_spec(s) for s in specs) else ()
    )
    return ("torch", *extra)


# --- workers ---------------------------------------------------------------------------------


@dataclass
class Task:
    spec: str
    options: dict[str, Any]  # keyword arguments of checking.check_model


def _worker_main(conn: Connection, preload: Sequence[str]) -> None:
    """A worker: import once, then check models until told to stop (None) or the parent goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # what models print must not mix into the report
    os.dup2(devnull, 2)
    import importlib
    import warnings

    warnings.simplefilter("ignore")
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # the model that needs it will say why
            pass
    from paraminspect.checking import check_model

    conn.send(READY)  # the timeout clock starts with a model, not with the imports
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            result = check_model(task.spec, **task.options)
        except BaseException as exc:  # a paraminspect bug: report it as this model's failure
            first = (str(exc).strip().splitlines() or [""])[0]
            result = ModelResult(spec=task.spec, error=f"internal error: {type(exc).__name__}: {first}")
        conn.send(result)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    ready: bool = False
    task: tuple[int, Task] | None = None
    started: float = 0.0


def _start_worker(ctx: Any, preload: Sequence[str]) -> _Worker:
    parent_conn, child_conn = ctx.Pipe(duplex=True)
    process = ctx.Process(target=_worker_main, args=(child_conn, tuple(preload)), daemon=True)
    process.start()
    child_conn.close()
    return _Worker(process, parent_conn)


def _stop(worker: _Worker) -> None:
    if worker.process.is_alive():
        worker.process.kill()
    worker.process.join()
    worker.conn.close()


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"crashed the worker process ({name}) while being built or checked"
    return f"ended the worker process (exit status {exitcode}) while being built or checked"


def check_many(
    tasks: Sequence[Task],
    jobs: int,
    timeout: float = DEFAULT_TIMEOUT,
    preload: Sequence[str] = ("torch",),
    on_result: Callable[[ModelResult], None] | None = None,
) -> list[ModelResult]:
    """Check every task in up to `jobs` worker processes; results in the order of `tasks`."""
    if jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, got {jobs}")
    if timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 seconds, got {timeout:g}")
    # spawn: a fresh interpreter per worker (no state forked from a parent that imported
    # torch and may hold threads); it imports torch/timm once and then serves many models.
    ctx = multiprocessing.get_context("spawn")
    results: list[ModelResult | None] = [None] * len(tasks)
    pending = list(enumerate(tasks))
    pending.reverse()  # pop() from the end keeps the given order
    workers = [_start_worker(ctx, preload) for _ in range(min(jobs, len(tasks)))]

    def finish(worker: _Worker, result: ModelResult) -> None:
        assert worker.task is not None
        results[worker.task[0]] = result
        worker.task = None
        if on_result is not None:
            on_result(result)

    try:
        while True:
            for worker in workers:
                if worker.ready and worker.task is None and pending:
                    worker.task = pending.pop()
                    worker.started = time.monotonic()
                    worker.conn.send(worker.task[1])
            waiting = [w for w in workers if w.task is not None or not w.ready]
            if not any(w.task is not None for w in workers) and not pending:
                break
            deadlines = [w.started + timeout for w in waiting if w.task is not None]
            pause = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            ready = wait([w.conn for w in waiting], timeout=pause)
            for i, worker in enumerate(workers):
                if worker.conn in ready:
                    try:
                        message = worker.conn.recv()
                    except (EOFError, OSError):
                        worker.process.join()
                        failure = _death_message(worker.process.exitcode)
                    else:
                        if message == READY:
                            worker.ready = True
                        else:
                            finish(worker, message)
                        continue
                elif worker.task is not None and time.monotonic() - worker.started >= timeout:
                    failure = f"timed out after {timeout:g} s (--timeout)"
                else:
                    continue
                _stop(worker)
                if not worker.ready:  # it died importing torch/timm: every other worker would too
                    raise LoadError(f"a worker process could not start (exit status {worker.process.exitcode})")
                if worker.task is not None:
                    spec = worker.task[1].spec
                    finish(worker, ModelResult(spec=spec, error=f"{spec} {failure}"))
                workers[i] = _start_worker(ctx, preload) if pending else worker
        for worker in workers:
            if worker.ready and worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
                worker.process.join(timeout=5)
    finally:
        for worker in workers:
            _stop(worker)
    return [r for r in results if r is not None]
