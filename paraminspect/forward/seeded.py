"""The random number generators a forward pass may draw from, seeded for one observed run
and restored afterwards: the same model gives the same findings on every run, and a draw from
Python's `random` or `numpy.random` (which a TorchFunctionMode cannot see) is noticed."""

from __future__ import annotations

import contextlib
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

SEED = 0


@dataclass
class Draws:
    """What was drawn from outside torch during the run: "random", "numpy.random"."""

    outside_torch: list[str] = field(default_factory=list)


def _numpy_state() -> Any:
    numpy = sys.modules.get("numpy")  # only when the model's code imported it
    if numpy is None:
        return None
    try:
        return numpy.random.get_state()
    except Exception:
        return None


def _same_numpy_state(a: Any, b: Any) -> bool:
    if a is None:
        return False
    return a[0] == b[0] and a[2] == b[2] and bool((a[1] == b[1]).all())


@contextlib.contextmanager
def seeded(device: torch.device) -> Iterator[Draws]:
    """torch (CPU and the run's CUDA device), Python's and numpy's generators seeded with SEED
    inside the block, their previous states back after it."""
    draws = Draws()
    cuda = [device.index or 0] if device.type == "cuda" else []
    python_state = random.getstate()
    numpy = sys.modules.get("numpy")
    numpy_saved = _numpy_state()
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(SEED)
        random.seed(SEED)
        if numpy_saved is not None:
            numpy.random.seed(SEED)
        python_seeded, numpy_seeded = random.getstate(), _numpy_state()
        try:
            yield draws
        finally:
            if random.getstate() != python_seeded:
                draws.outside_torch.append("random")
            if numpy_seeded is not None and not _same_numpy_state(_numpy_state(), numpy_seeded):
                draws.outside_torch.append("numpy.random")
            random.setstate(python_state)
            if numpy_saved is not None:
                numpy.random.set_state(numpy_saved)
