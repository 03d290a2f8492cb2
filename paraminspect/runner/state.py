"""What a task could leave behind in its process: the runner's test for reusing a worker.

A registry sweep runs library models (timm, transformers) one after another in a worker
process (runner.child.worker_main). Before it takes the next task, the worker compares
`process_state()` with the one it had before its first task; any difference (a thread or a
process still running, a signal handler, torch's default dtype or device or a mode left
pushed, a function of torch, torch.nn, builtins or paraminspect rebound, an import hook, a
tracer) retires it, and the next model gets a fresh process. State the runner sets again
for every task (working directory, environment, sys.path, stdout/stderr) is not compared.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import Any

# Namespaces whose bindings a task must not change (a patched nn.Module.__setattr__ would
# change what every later model's inventory says). Not socket: the network guard is an audit
# hook, which no rebinding removes.
WATCHED_MODULES = (
    "builtins",
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "torch.nn.init",
    "torch.nn.modules.module",
    "torch.nn.parameter",
    "torch.overrides",
)
WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGALRM, signal.SIGPIPE)


Bindings = dict[str, tuple[tuple[str, ...], tuple[int, ...]]]


def _bindings() -> Bindings:
    """Per watched namespace: its names and the ids of what they are bound to."""
    spaces = [(name, sys.modules.get(name)) for name in WATCHED_MODULES]
    spaces += [(name, module) for name, module in list(sys.modules.items()) if name.startswith("paraminspect")]
    torch = sys.modules.get("torch")
    if torch is not None:
        spaces += [(cls.__qualname__, cls) for cls in (torch.nn.Module, torch.nn.Parameter, torch.Tensor)]
    out: Bindings = {}
    for space, holder in spaces:
        if holder is not None:
            namespace = dict(vars(holder))
            out[space] = (tuple(namespace), tuple(map(id, namespace.values())))
    return out


def _rebound(before: tuple[tuple[str, ...], tuple[int, ...]], now: tuple[tuple[str, ...], tuple[int, ...]]) -> bool:
    if before == now:
        return False
    current = dict(zip(*now, strict=True))
    return any(current.get(name) != value for name, value in zip(*before, strict=True))


def _os_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))  # also threads started by C code (OpenMP)
    except OSError:
        return -1


def _has_children() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return False
    return True  # still running, or a zombie just reaped: a task started it either way


def _torch_state() -> tuple[Any, ...]:
    torch = sys.modules.get("torch")
    if torch is None:
        return ()
    default_device = getattr(torch, "get_default_device", lambda: None)()
    return (
        torch.get_default_dtype(),
        str(default_device),
        torch.is_grad_enabled(),
        torch.is_inference_mode_enabled(),
        torch._C._len_torch_function_stack(),
        torch._C._len_torch_dispatch_stack(),
        torch.are_deterministic_algorithms_enabled(),
        torch.get_num_threads(),
    )


@dataclass(frozen=True)
class ProcessState:
    flags: tuple[Any, ...]
    bindings: Bindings

    def changed_since(self, before: ProcessState) -> bool:
        """Whether a task changed anything `before` holds. Names bound since (a submodule
        imported, a cache filled) do not count; a rebinding does."""
        if self.flags != before.flags:
            return True
        now = self.bindings
        return any(_rebound(names, now.get(space, ((), ()))) for space, names in before.bindings.items())


def process_state() -> ProcessState:
    """A snapshot of the state above (see the module docstring)."""
    import gc

    flags = (
        threading.active_count(),
        _os_threads(),
        _has_children(),
        tuple(signal.getsignal(s) for s in WATCHED_SIGNALS),
        sys.gettrace(),
        sys.getprofile(),
        sys.getrecursionlimit(),
        tuple(map(id, sys.meta_path)),
        tuple(map(id, sys.path_hooks)),
        tuple(map(id, warnings.filters)),
        gc.isenabled(),
        gc.get_threshold(),
        _torch_state(),
    )
    return ProcessState(flags, _bindings())


def resident_bytes() -> int:
    """This process's resident memory (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
