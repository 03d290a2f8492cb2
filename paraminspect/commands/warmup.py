"""Imported last by the runner's fork server: check a few small models there, once, before
any child is forked.

A child's first model runs its code paths for the first time in that process: CPython 3.11
specialises bytecode as it runs it (writing to code objects the child shares with the
server, copy on write), and torch, timm and paraminspect fill their lazy caches. Every child
used to pay that again. Done once in the server, the children inherit it (what it saves:
bench/NOTES.md).

What is checked here is paraminspect's own small model and, when the server imported timm,
a few timm architectures built on meta: no user code runs in the server. Which of the
modules imported by then are source files a cached run must watch is decided here too.
Output and warnings are discarded, the random states, sys.path and the working directory
are put back, and a warm-up that fails for any reason (an older timm without a model)
costs only its time.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import sys
import warnings
from typing import Any

import torch
from torch import nn

from paraminspect.forms import TIMM_PREFIX

# Small, and between them the layers most timm models are made of: convolutions with batch
# norm (resnet), attention blocks with layer norm (vit), depthwise convolutions (convnext).
TIMM_MODELS = ("resnet10t", "vit_tiny_patch16_224", "convnext_atto")


class WarmupModel(nn.Module):
    """The common torch.nn layers, and a plain tensor attribute for the checks to find."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.embed = nn.Embedding(16, 8)
        self.attention = nn.MultiheadAttention(8, 2)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Sequential(nn.Dropout(), nn.GELU(), nn.Linear(8, 2))
        self.scale = torch.ones(8)


def build() -> WarmupModel:
    return WarmupModel()


def warm_up() -> None:
    """Check the warm-up models here (see the module docstring); never raises."""
    from paraminspect.commands.check import check_model

    specs = [f"{__name__}:build"]
    if "timm" in sys.modules:
        specs += [f"{TIMM_PREFIX}{name}" for name in TIMM_MODELS]
    saved = _saved_state()
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")  # "ignore" records nothing: a child still warns
            for spec in specs:
                try:
                    check_model(spec)
                except Exception:
                    pass
            with contextlib.suppress(Exception):  # which imported files a cached run watches
                from paraminspect.cache import imported_sources

                imported_sources()
    finally:
        _restore_state(saved)


def _saved_state() -> tuple[Any, ...]:
    return os.getcwd(), list(sys.path), random.getstate(), torch.random.get_rng_state()


def _restore_state(saved: tuple[Any, ...]) -> None:
    cwd, path, python_random, torch_random = saved
    with contextlib.suppress(OSError):
        os.chdir(cwd)
    sys.path[:] = path
    random.setstate(python_random)
    torch.random.set_rng_state(torch_random)


warm_up()
