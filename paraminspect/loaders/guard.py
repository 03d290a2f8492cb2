"""The network guard: while a model builds, any socket connection is refused."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

from paraminspect.errors import NetworkBlockedError

_guard = threading.local()
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not getattr(_guard, "active", False):
        return
    if event == "socket.getaddrinfo":
        target = f"{args[0]}:{args[1]}"
    elif event == "socket.connect":
        address = args[1]
        if not (isinstance(address, tuple) and len(address) >= 2):
            return  # unix sockets are not downloads
        target = f"{address[0]}:{address[1]}"
    else:
        return
    _guard.attempted = target
    raise NetworkBlockedError(f"network access to {target} refused while building the model")


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Refuse socket connections made by this thread while the block runs."""
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # audit hooks cannot be removed: it stays, gated by _guard
        _hook_installed = True
    _guard.active, _guard.attempted = True, None
    try:
        yield
    finally:
        _guard.active = False


def network_attempt() -> str | None:
    return getattr(_guard, "attempted", None)
