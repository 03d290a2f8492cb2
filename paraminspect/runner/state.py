"""What a task could leave behind in its process: the runner's test for reusing a worker.

A registry sweep runs library models (timm, transformers) one after another in a worker
process (runner.child.child_main). Before it takes the next task, the worker compares
the process with `process_state()` taken before its first task; any difference (a thread or a
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


# Per watched namespace: the object holding it, and a copy of its dict when the worker began.
Bindings = dict[str, tuple[Any, dict[str, Any]]]


def _bindings() -> Bindings:
    spaces = [(name, sys.modules.get(name)) for name in WATCHED_MODULES]
    spaces += [(name, module) for name, module in list(sys.modules.items()) if name.startswith("paraminspect")]
    torch = sys.modules.get("torch")
    if torch is not None:
        spaces += [(cls.__qualname__, cls) for cls in (torch.nn.Module, torch.nn.Parameter, torch.Tensor)]
    return {space: (holder, dict(vars(holder))) for space, holder in spaces if holder is not None}


def _rebound(holder: Any, saved: dict[str, Any]) -> bool:
    """Whether a name of `saved` is now bound to another object. Dict equality checks
    identity first, in C (~15 µs for torch's 1,500 names); only when it fails (a name added,
    or a value that compares unequal or cannot compare) are the names looked at one by one."""
    current = vars(holder)
    try:
        if current == saved:
            return False
    except Exception:  # a rebound tensor compares elementwise
        pass
    missing = object()
    return any(current.get(name, missing) is not value for name, value in list(saved.items()))


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


def _flags() -> tuple[Any, ...]:
    import gc

    return (
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


@dataclass(frozen=True)
class ProcessState:
    flags: tuple[Any, ...]
    bindings: Bindings

    def changed(self) -> bool:
        """Whether the process is no longer as this snapshot found it. Names bound since (a
        submodule imported, a cache filled) do not count; a rebinding does."""
        if _flags() != self.flags:
            return True
        return any(_rebound(holder, saved) for holder, saved in self.bindings.values())


def process_state() -> ProcessState:
    """A snapshot of the state above (see the module docstring), taken once per worker."""
    return ProcessState(_flags(), _bindings())


def resident_bytes() -> int:
    """This process's resident memory (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
