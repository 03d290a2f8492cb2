"""Plain-text formatting shared by every renderer (no rich here)."""

from __future__ import annotations

from functools import lru_cache

from paraminspect.render.safe import printable  # re-exported: render/diff.py, render/fixes.py
from paraminspect.tensors.records import BUFFER, STORED, UNREGISTERED, TensorRecord, Totals
from paraminspect.wording import plural

__all__ = [
    "all_stored",
    "count",
    "human_bytes",
    "kind_text",
    "name_text",
    "only_stored",
    "plural",
    "shape_text",
    "tensor_cells",
]


def only_stored(t: Totals) -> bool:
    """A checkpoint's listing: stored tensors only, so no parameters, buffers or gradients
    (a file does not record them) are claimed about it."""
    return bool(t.stored) and not (t.parameters or t.buffers or t.unregistered or t.packed)


def all_stored(records: list[TensorRecord] | tuple[TensorRecord, ...]) -> bool:
    return bool(records) and all(r.kind == STORED for r in records)


@lru_cache(maxsize=4096)  # models repeat the same sizes layer after layer
def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@lru_cache(maxsize=4096)
def count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def shape_text(r: TensorRecord) -> str:
    if r.uninitialized:
        return "uninitialized"
    if r.shape is None:
        return "?"
    return _shape_string(r.shape)


@lru_cache(maxsize=4096)
def _shape_string(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def kind_text(r: TensorRecord) -> str:
    if r.kind == BUFFER and r.persistent is False:
        return "buffer (np)"
    if r.kind == UNREGISTERED:
        return "UNREGISTERED"
    return r.kind


def name_text(r: TensorRecord) -> str:
    return printable(" = ".join((r.name, *r.aliases)) if r.aliases else r.name)


def tensor_cells(r: TensorRecord) -> list[str]:
    """Name, Kind, Grad, Shape, Dtype, Device, Numel, Size: one row of the human tables."""
    return [
        name_text(r),
        kind_text(r),
        "yes" if r.requires_grad else "no",
        shape_text(r),
        printable(r.dtype),
        printable(r.device),
        count(r.numel),
        human_bytes(r.nbytes),
    ]
