"""The plain data of one measured forward pass (`forward_stats`): per-module output shapes,
FLOPs, call counts and modes, and the pass's totals. Frozen, picklable, no torch inside and
no torch import, so a parent process, the renderers and the JSON writer can use it.

Sizes are bytes of distinct storages (a view and its base count once), per dtype, as the
pass made them (the model's own dtypes); `training_memory` recasts them for `--dtype`."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

# What `activation_bytes` measures: the pass ran a module tree in training mode (what
# autograd keeps for the backward pass) or in eval mode (the modules' outputs).
TRAINING = "training"
INFERENCE = "inference"

# Where the pass ran (ForwardStats.engine).
META = "meta"  # meta tensors: no weights, no activations allocated
FAKE = "fake"  # torch's FakeTensorMode, fake CPU tensors: nothing allocated either
CPU = "cpu"  # real CPU tensors (a model meta and fake cannot run), bounded by a size limit


@dataclass(frozen=True, slots=True)
class DtypeBytes:
    """Distinct storages of one dtype: how many and their bytes."""

    dtype: str  # "float32", "int64", ...
    tensors: int
    bytes: int


@dataclass(frozen=True, slots=True)
class InputInfo:
    """One tensor of the example input: `args[0]`, `kwargs['input_ids']`, `args[1][0]`."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    bytes: int


@dataclass(frozen=True, slots=True)
class ModuleStats:
    """One module of the tree (name "" for the root), in module-tree order.

    `flops` sums every call (FLOPs of a submodule count in each of its ancestors, as
    torch.utils.flop_counter.FlopCounterMode attributes them); `output_shapes` are the
    tensors of the first call's output, flattened in order (tuples, lists, dict values,
    namedtuple and dataclass fields, a distribution's tensors); `varying_shapes` says a
    later call returned other shapes. A module that never ran has calls 0 and no shapes."""

    name: str
    type: str
    mode: str  # "train" or "eval": the module's own flag when the pass ran
    calls: int
    output_shapes: tuple[tuple[int, ...], ...]
    flops: int
    varying_shapes: bool = False
    aliases: tuple[str, ...] = ()  # other names of the same module object (shared modules)


@dataclass(frozen=True)
class ForwardStats:
    """What one forward pass of a model on an example input showed.

    `saved_for_backward`: storages autograd saved for the backward pass (each once; the
    model's own parameters and buffers and the inputs are not activations and are left
    out). `outputs`: storages the modules returned (each once, the same exclusions): what
    an inference pass produces, summed over the pass (not a peak). `activation_kind` says
    which of the two `activation_bytes` reports: training when the root module was in
    training mode, inference when it was in eval mode."""

    modules: tuple[ModuleStats, ...]
    flops: int  # every FLOP of the pass, also outside any module
    flops_by_operator: tuple[tuple[str, int], ...]  # ("aten.mm", n), most first
    inputs: tuple[InputInfo, ...]
    input_bytes: int
    activation_kind: str  # TRAINING or INFERENCE
    saved_for_backward: tuple[DtypeBytes, ...]
    outputs: tuple[DtypeBytes, ...]
    engine: str  # META, FAKE or CPU
    input_description: str = ""
    notes: tuple[str, ...] = ()

    @property
    def activations(self) -> tuple[DtypeBytes, ...]:
        return self.saved_for_backward if self.activation_kind == TRAINING else self.outputs

    @property
    def activation_bytes(self) -> int:
        return sum(d.bytes for d in self.activations)

    def module(self, name: str) -> ModuleStats | None:
        return next((m for m in self.modules if m.name == name or name in m.aliases), None)


def fold_key(row: ModuleStats) -> Hashable:
    """What must be equal for forward rows to fold (tensors.collapse.fold): type, mode,
    calls, output shapes and FLOPs."""
    return (row.type, row.mode, row.calls, row.output_shapes, row.varying_shapes, row.flops)


def forward_block(stats: ForwardStats) -> dict[str, object]:
    """The `forward` object of the JSON output (plain lists, dicts, strings and ints), as issue
    29 specifies it plus what a reader needs to trust it (engine, kinds, notes)."""

    def sizes(rows: tuple[DtypeBytes, ...]) -> dict[str, int]:
        return {row.dtype: row.bytes for row in rows}

    return {
        "engine": stats.engine,
        "input_description": stats.input_description,
        "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype, "bytes": i.bytes} for i in stats.inputs],
        "input_bytes": stats.input_bytes,
        "flops": stats.flops,
        "activation_kind": stats.activation_kind,
        "activation_bytes": stats.activation_bytes,
        "activation_bytes_by_dtype": sizes(stats.activations),
        "saved_for_backward_bytes": sum(row.bytes for row in stats.saved_for_backward),
        "output_bytes": sum(row.bytes for row in stats.outputs),
        "notes": list(stats.notes),
        "modules": [
            {
                "name": m.name,
                "type": m.type,
                "output_shapes": [list(shape) for shape in m.output_shapes],
                "flops": m.flops,
                "mode": m.mode,
                "calls": m.calls,
                "varying_shapes": m.varying_shapes,
                "aliases": list(m.aliases),
            }
            for m in stats.modules
        ],
    }
