"""FLOPs per module, counted by torch.utils.flop_counter.FlopCounterMode itself (its formulas,
its decompositions), with the module attribution done here: FlopCounterMode names modules
after their class and attribute path (`VisionTransformer.blocks.0`), which merges modules held
outside the tree and renames shared ones; this tracker keys them by object, so that every FLOP
lands on the module-tree rows of the modules that ran it (each of its ancestors included, as
FlopCounterMode attributes them), a module called three times sums its three calls, and its
calls and output shapes are recorded on the way.

The tracker stands in for FlopCounterMode's ModuleTracker through the one thing the counter
reads from it, the set `parents` of modules running now (see `counting_flops`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from paraminspect.forward.attention import flop_formulas
from paraminspect.forward.outputs import output_tensors, shape_of

GLOBAL = "Global"  # FlopCounterMode's key for every FLOP of the pass


class ModuleTracker:
    """Global forward pre/post hooks that keep the stack of running modules of the tree
    (`index`: id(module) -> row number), count their calls and keep the first call's output
    shapes. `on_output(tensor)` sees every tensor a module of the tree returns."""

    def __init__(self, index: dict[int, int], on_output: Callable[[torch.Tensor], None]) -> None:
        rows = len(index)
        self.index = index
        self.on_output = on_output
        self.parents: set[Any] = {GLOBAL}
        self.stack: list[int] = []
        self.calls = [0] * rows
        self.shapes: list[tuple[tuple[int, ...], ...] | None] = [None] * rows
        self.varying = [False] * rows
        self._handles: list[Any] = []

    def __enter__(self) -> ModuleTracker:
        if self._handles:
            raise RuntimeError("ModuleTracker is not reentrant")
        self._handles = [
            nn.modules.module.register_module_forward_pre_hook(self._entered),
            nn.modules.module.register_module_forward_hook(self._left, always_call=True),
        ]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:  # ours only, also when forward raised
            handle.remove()
        self._handles = []

    def _entered(self, module: nn.Module, _args: Any) -> None:
        row = self.index.get(id(module))
        if row is None:  # not in the module tree (held in a plain list): its FLOPs go to its callers
            return
        self.stack.append(row)
        self.parents.add(row)
        self.calls[row] += 1

    def _left(self, module: nn.Module, _args: Any, output: Any) -> None:
        row = self.index.get(id(module))
        if row is None or row not in self.stack:
            return
        # the innermost call of this module ends (a module may run inside itself)
        last = len(self.stack) - 1 - self.stack[::-1].index(row)
        del self.stack[last]
        if row not in self.stack:
            self.parents.discard(row)
        tensors = output_tensors(output)
        shapes = tuple(s for s in map(shape_of, tensors) if s is not None)
        if self.shapes[row] is None:
            self.shapes[row] = shapes
        elif self.shapes[row] != shapes:
            self.varying[row] = True
        for t in tensors:
            self.on_output(t)


@contextmanager
def counting_flops(tracker: ModuleTracker) -> Iterator[FlopCounterMode]:
    """FlopCounterMode with `tracker` attributing its counts (the counter enters and leaves
    the tracker itself): afterwards `get_flop_counts()` is keyed by tracker row numbers and
    GLOBAL."""
    counter = FlopCounterMode(display=False, custom_mapping=flop_formulas())
    if not hasattr(counter, "mod_tracker"):  # a torch whose counter no longer takes a tracker
        raise RuntimeError("torch.utils.flop_counter.FlopCounterMode has no mod_tracker in this torch version")
    counter.mod_tracker = tracker
    with counter:
        yield counter


def per_row(counter: FlopCounterMode, rows: int) -> tuple[list[int], int, list[tuple[str, int]]]:
    """(FLOPs of each row, FLOPs of the pass, FLOPs per operator, most first)."""
    counts = counter.get_flop_counts()
    flops = [sum(counts.get(row, {}).values()) for row in range(rows)]
    by_operator = sorted(((str(op), n) for op, n in counts.get(GLOBAL, {}).items()), key=lambda kv: (-kv[1], kv[0]))
    return flops, sum(n for _, n in by_operator), by_operator
