"""Pausing Python's cyclic garbage collector around bulk work.

Building a model, walking it and receiving its records each create tens of thousands of
long-lived objects and no garbage cycles; the collector's passes over them (each pass
rescans everything still young) cost more than the work itself. Standard library only.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator, Sequence
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


def import_paused(names: Sequence[str]) -> None:
    """Import `names` with the collector paused, then freeze what is there. Importing torch
    and timm creates ~1M objects that live as long as the process and no garbage worth a
    pass: the passes cost ~0.3 s of torch's import and ~1 s of torch's and timm's (2 cores,
    Python 3.11). Frozen, they are not rescanned by any later pass either. A name that
    fails to import is skipped: what needs it fails later with its own message."""
    todo = [name for name in names if name not in sys.modules]
    if not todo:
        return  # nothing new: freezing now would only keep a previous task's garbage for good
    with collector_paused():
        for name in todo:
            try:
                importlib.import_module(name)
            except Exception:
                pass
    gc.freeze()
