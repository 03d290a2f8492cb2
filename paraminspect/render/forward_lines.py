"""The text a forward pass adds to `show`: its totals (FLOPs, input size, activation memory per
dtype, training or inference said), the training memory of each `--dtype`, and the cells of
the module table's Output shape, FLOPs and Mode columns. Pure functions of plain data
(forward.stats_data, forward.training_memory); no rich, no torch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from paraminspect.forward.stats_data import INFERENCE, ForwardStats, ModuleStats
from paraminspect.forward.training_memory import TrainingMemory
from paraminspect.render.fit import wrap_items
from paraminspect.render.formatting import count, human_bytes
from paraminspect.render.safe import printable
from paraminspect.render.tree import flops_text, shapes_text

__all__ = ["by_path", "flops_by_path", "forward_lines", "module_cells", "training_lines"]

# What `activation_bytes` counts, in words, by the pass's activation_kind.
_ACTIVATIONS = {
    "training": "training: what autograd saves for backward",
    INFERENCE: "inference, the model in eval mode: the modules' outputs",
}
_ENGINES = {"meta": "on the meta device", "fake": "on fake tensors", "cpu": "on CPU"}


def by_path(stats: ForwardStats) -> dict[str, ModuleStats]:
    """Each module's row by its path and by every other name of the same module object."""
    rows: dict[str, ModuleStats] = {}
    for m in stats.modules:
        rows.setdefault(m.name, m)
        for alias in m.aliases:
            rows.setdefault(alias, m)
    return rows


def flops_by_path(stats: ForwardStats) -> dict[str, int]:
    """FLOPs per module path ("" the root), each inclusive of its submodules' and summed over
    its calls (FlopCounterMode's attribution): the HTML report's FLOPs sizing. The root holds
    every FLOP of the pass, also those outside any submodule."""
    flops = {path: m.flops for path, m in by_path(stats).items()}
    flops[""] = max(flops.get("", 0), stats.flops)
    return flops


def forward_lines(stats: ForwardStats, width: int | None = None) -> list[str]:
    """`FLOPs (...): ...`, `Input: ...` and `Activations: ...; training: ...`, each broken
    between items to fit `width`."""
    engine = _ENGINES.get(stats.engine, stats.engine)
    shown = [flops_text(stats.flops)] + ([count(stats.flops)] if stats.flops >= 1000 else [])
    lines = wrap_items(f"FLOPs (forward pass {engine}): ", shown, width, " = ")
    inputs = [f"{printable(i.name)} {i.dtype} {list(i.shape)}" for i in stats.inputs]
    lines += wrap_items("Input: ", [human_bytes(stats.input_bytes), *inputs], width, "; ")
    kind = _ACTIVATIONS.get(stats.activation_kind, stats.activation_kind)
    per_dtype = stats.activations
    if len(per_dtype) == 1:
        items = [f"{human_bytes(stats.activation_bytes)} ({per_dtype[0].dtype})"]
    else:
        items = [f"{human_bytes(stats.activation_bytes)}", *(f"{d.dtype} {human_bytes(d.bytes)}" for d in per_dtype)]
    lines += wrap_items("Activations: ", [*items, kind], width, "; ")
    return lines


def training_lines(training: Sequence[TrainingMemory], width: int | None = None) -> list[str]:
    """`show --dtype` with a forward pass: per dtype, the training memory and what it is made
    of (weights + gradients + Adam's states + inputs + saved activations); for an integer
    dtype, which Adam does not train, the activations only and why."""
    lines: list[str] = []
    for t in training:
        label = f"Training as {t.dtype} with Adam: " if t.dtype else "Training with Adam: "
        if t.training_bytes is None or t.gradient_bytes is None or t.optimizer_bytes is None:
            items = [
                "not counted",
                f"weights {human_bytes(t.weights_bytes)}",
                f"saved activations {human_bytes(t.saved_bytes)} (in the pass's floating dtype)",
            ]
            lines += wrap_items(label, items, width, "; ")
        else:
            states = f"Adam states {human_bytes(t.optimizer_bytes)} (2 x {t.optimizer_dtype or 'each parameter'})"
            items = [
                f"{human_bytes(t.training_bytes)} = weights {human_bytes(t.weights_bytes)}",
                f"gradients {human_bytes(t.gradient_bytes)}",
                states,
                f"inputs {human_bytes(t.input_bytes)}",
                f"saved activations {human_bytes(t.saved_bytes)}",
            ]
            lines += wrap_items(label, items, width, " + ")
        lines += [f"  ({note})" for note in t.notes]
    return lines


def module_cells(stats: ModuleStats | None) -> tuple[str, str, str]:
    """Output shape, FLOPs and Mode of one module row: `--` where the module did not run (its
    mode is still known), `(1st call)` where later calls returned other shapes."""
    if stats is None:
        return "--", "--", "--"
    if not stats.calls:
        return "--", "--", stats.mode
    shapes = shapes_text(stats.output_shapes)
    if stats.varying_shapes:
        shapes += " (1st call)"
    return shapes, flops_text(stats.flops), stats.mode


def training_dict(training: Sequence[TrainingMemory]) -> Mapping[str, dict[str, object]]:
    """`forward.training_memory` of the JSON output: per --dtype, the bytes of each part."""
    return {
        (t.dtype or "as built"): {
            "training_bytes": t.training_bytes,
            "weights_bytes": t.weights_bytes,
            "gradient_bytes": t.gradient_bytes,
            "optimizer_dtype": t.optimizer_dtype,
            "optimizer_bytes": t.optimizer_bytes,
            "input_bytes": t.input_bytes,
            "saved_activation_bytes": t.saved_bytes,
            "activation_kind": t.activation_kind,
            "activation_bytes": t.activation_bytes,
            "notes": list(t.notes),
        }
        for t in training
    }
