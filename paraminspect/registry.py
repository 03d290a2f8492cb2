"""Checking models: timm glob patterns, and the model processes that check them.

`expand_specs` turns `timm:vit_*` / `timm:*` (or a bare `vit_*`) into one `timm:NAME` spec per
matching registered model. `check_many` checks specs through paraminspect.runner, in child
processes forked from a process that imported torch (and timm) once: each user model in a
process of its own, library models (timm, transformers classes) one after another in worker
processes that are retired as soon as a model leaves one changed. A model that raises, ends
its process (os._exit, a segfault) or runs past the timeout becomes a failed ModelResult and
the run goes on. Plain data in and out: no printing (progress is a callback).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from paraminspect.checking import ModelResult
from paraminspect.errors import UsageError
from paraminspect.runner.task import DEFAULT_TIMEOUT, INTERNAL, INTERRUPTED, Outcome

TIMM_PREFIX = "timm:"
GLOB_CHARS = frozenset("*?[")
_REGISTERED_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def is_glob(spec: str) -> bool:
    return any(c in GLOB_CHARS for c in spec)


def timm_pattern(spec: str) -> str | None:
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
        pattern = timm_pattern(spec.strip())
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


def is_library_model(spec: str) -> bool:
    """A model that an installed library registers (a timm name, a transformers class): the
    library's code, not the user's. A sweep checks such models one after another in shared
    worker processes (runner Task.reuse), each retired once a model leaves it changed."""
    from paraminspect.loaders.hf import TRANSFORMERS_PREFIX
    from paraminspect.loaders.spec import is_checkpoint_spec

    name = spec.strip()
    for prefix in (TIMM_PREFIX, TRANSFORMERS_PREFIX):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    else:
        if os.path.lexists(name):
            return False
    return bool(_REGISTERED_NAME.fullmatch(name)) and not is_checkpoint_spec(name)


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


def expand_in_server(specs: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """expand_specs run in a child of the runner's fork server: the server imports timm (or
    transformers) once, for this expansion and for every model of the sweep after it, and
    the CLI process imports neither."""
    from paraminspect.errors import LoadError
    from paraminspect.runner import ERROR, run_one
    from paraminspect.runner import Task as RunnerTask

    task = RunnerTask("paraminspect.registry:expand_specs", {"specs": list(specs)}, label="expanding the globs")
    outcome = run_one(task, timeout, preload_for(specs), server=True)
    if outcome.ok:
        return list(outcome.value)
    if outcome.status == INTERRUPTED:
        raise KeyboardInterrupt
    raise (UsageError if outcome.status == ERROR else LoadError)(outcome.message)


# --- checking many models in child processes -------------------------------------------


@dataclass
class Task:
    spec: str
    options: dict[str, Any]  # keyword arguments of checking.check_model


def result_of(outcome: Outcome) -> ModelResult:
    """A runner Outcome as a ModelResult: the child's own result, or a failed one saying how
    the child ended (its output and traceback kept for the CLI to show)."""
    if outcome.status == INTERRUPTED:
        raise KeyboardInterrupt  # Ctrl-C, or a KeyboardInterrupt raised by the model: exit 130
    if outcome.ok:
        result = outcome.value
    elif outcome.status == INTERNAL:
        message = f"internal error: {outcome.message} (a paraminspect bug; rerun with --debug for the traceback)"
        result = ModelResult(spec=outcome.label, error=message)
    else:
        result = ModelResult(spec=outcome.label, error=outcome.message)
    return dataclasses.replace(result, output=outcome.output, traceback=outcome.traceback)


def check_many(
    tasks: Sequence[Task],
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
    preload: Sequence[str] = (),
    on_result: Callable[[ModelResult], None] | None = None,
) -> list[ModelResult]:
    """Check every task in a child process (paraminspect.runner: a process of its own, or a
    worker shared with other library models), up to `jobs` at a time; results in the order
    of `tasks`. A model that raises, ends its process (os._exit,
    a segfault) or runs past the timeout becomes a failed ModelResult and the run goes on."""
    from paraminspect.runner import Task as RunnerTask
    from paraminspect.runner import run_many
    from paraminspect.runner.tasks import CHECK

    def collect(outcome: Outcome) -> None:
        result = result_of(outcome)  # raises KeyboardInterrupt at once for an interrupted model
        if on_result is not None:
            on_result(result)

    def runner_task(task: Task) -> RunnerTask:
        # a forward pass (--run) starts threads and fills real memory: a process per model
        reuse = task.options.get("run") is None and is_library_model(task.spec)
        return RunnerTask(CHECK, {"spec": task.spec, **task.options}, label=task.spec, reuse=reuse)

    outcomes = run_many(
        [runner_task(t) for t in tasks],
        jobs,
        timeout,
        preload=preload,
        on_outcome=collect,
    )
    return [result_of(o) for o in outcomes]
