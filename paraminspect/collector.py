"""Pausing Python's cyclic garbage collector around bulk work.

Building a model, walking it and receiving its records each create tens of thousands of
long-lived objects and no garbage cycles; the collector's passes over them (each pass
rescans everything still young) cost more than the work itself. Standard library only.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block; re-enable it after, if it was enabled."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
