"""The network guard: while a model builds, any socket connection (or datagram sent to an
address) made through Python's socket module is refused, with a message naming it.

In the Python API the guard covers the building thread while the build runs. In a runner
child (the CLI) `refuse_network()` turns it on for every thread, for the child's whole life:
a factory's own threads (or threads it leaves running) cannot reach the network either.
There, paraminspect.runner.seccomp also has the kernel refuse network sockets to the process
and everything it starts (ctypes, C extensions, subprocesses), where the platform allows it.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

from paraminspect.errors import NetworkBlockedError

_guard = threading.local()
_hook_installed = False
_state: dict[str, Any] = {"everywhere": False, "attempted": None}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not (_state["everywhere"] or getattr(_guard, "active", False)):
        return
    if event == "socket.getaddrinfo":
        target = f"{args[0]}:{args[1]}"
    elif event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1]
        if not (isinstance(address, tuple) and len(address) >= 2):
            return  # unix sockets are not downloads
        target = f"{address[0]}:{address[1]}"
    else:
        return
    _state["attempted"] = target  # process-wide: the attempt may come from another thread
    raise NetworkBlockedError(f"network access to {target} refused while building the model")


def _install_hook() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # audit hooks cannot be removed: it stays, gated by _guard/_state
        _hook_installed = True


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Refuse socket connections made by this thread while the block runs."""
    _install_hook()
    _guard.active = True
    _state["attempted"] = None
    try:
        yield
    finally:
        _guard.active = False


def refuse_network() -> None:
    """Refuse socket connections from every thread of this process from now on."""
    _install_hook()
    _state["everywhere"] = True


def network_attempt() -> str | None:
    return _state["attempted"]
