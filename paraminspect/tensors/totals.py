"""Totals of an inventory, per-module summaries, and inventories of bare records (checkpoints).
Imports no torch."""

from __future__ import annotations

from collections.abc import Sequence

from paraminspect.tensors.records import (
    BUFFER,
    PACKED,
    PARAMETER,
    STORED,
    Breakdown,
    Inventory,
    ModuleRecord,
    ModuleSummaryRow,
    TensorRecord,
    Totals,
)


def compute_totals(records: tuple[TensorRecord, ...]) -> Totals:
    params = trainable = buffers = unregistered = stored = packed = total_bytes = uninitialized = 0
    by_dtype: dict[str, list[int]] = {}
    by_device: dict[str, list[int]] = {}
    for r in records:
        numel = r.numel or 0
        nbytes = r.nbytes or 0
        if r.uninitialized:
            uninitialized += 1
        if r.kind == PARAMETER:
            params += numel
            if r.requires_grad:
                trainable += numel
        elif r.kind == BUFFER:
            buffers += numel
        elif r.kind == STORED:
            stored += numel
        elif r.kind == PACKED:
            packed += numel
        else:
            unregistered += numel
        total_bytes += nbytes
        for table, key in ((by_dtype, r.dtype), (by_device, r.device)):
            row = table.setdefault(key, [0, 0, 0])
            row[0] += 1
            row[1] += numel
            row[2] += nbytes

    def freeze(table: dict[str, list[int]]) -> dict[str, Breakdown]:
        return {k: Breakdown(*v) for k, v in sorted(table.items(), key=lambda kv: -kv[1][2])}

    return Totals(
        parameters=params,
        trainable=trainable,
        frozen=params - trainable,
        buffers=buffers,
        unregistered=unregistered,
        bytes=total_bytes,
        tensors=len(records),
        uninitialized=uninitialized,
        by_dtype=freeze(by_dtype),
        by_device=freeze(by_device),
        stored=stored,
        packed=packed,
    )


def inventory_from_records(records: list[TensorRecord], root_type: str) -> Inventory:
    """An inventory of tensors that no module holds (a checkpoint file): every dotted prefix
    of a name becomes a module path, of unknown type, so --depth views work."""
    paths: dict[str, None] = {"": None}
    for r in records:
        parts = r.module.split(".") if r.module else []
        for level in range(1, len(parts) + 1):
            paths.setdefault(".".join(parts[:level]), None)
    modules = tuple(ModuleRecord(path=p, type="", qualified_type="", registered=True) for p in paths)
    frozen = tuple(records)
    return Inventory(tensors=frozen, modules=modules, references=(), totals=compute_totals(frozen), root_type=root_type)


def module_summary(
    inv: Inventory, max_depth: int, records: Sequence[TensorRecord] | None = None
) -> list[ModuleSummaryRow]:
    """Per-module aggregate of registered parameters (tied counted once, at their first
    name), buffer elements and the size of every tensor, for registered modules down to
    `max_depth` levels below the root. A checkpoint's stored tensors count as its
    parameters: the file does not say which are buffers. Given `records` (a --filter/--kind
    selection), only those count, and modules holding none of them are left out."""
    totals: dict[str, list[int]] = {}
    for r in inv.tensors if records is None else records:
        if r.numel is None:
            continue
        param = r.kind in (PARAMETER, STORED)
        parts = r.module.split(".") if r.module else []
        for level in range(0, min(len(parts), max_depth) + 1):
            key = ".".join(parts[:level])
            row = totals.setdefault(key, [0, 0, 0, 0])
            if param:
                row[0] += r.numel
                if r.requires_grad:
                    row[1] += r.numel
            elif r.kind == BUFFER:
                row[2] += r.numel
            row[3] += r.nbytes or 0
    grand = (inv.totals.parameters + inv.totals.stored) or 1
    rows = []
    for m in inv.modules:
        if not m.registered or (records is not None and m.path not in totals):
            continue
        depth = 0 if not m.path else m.path.count(".") + 1
        if depth > max_depth:
            continue
        count, trainable, buffers, nbytes = totals.get(m.path, (0, 0, 0, 0))
        rows.append(ModuleSummaryRow(m.path, m.type, depth, count, trainable, count / grand, buffers, nbytes))
    return rows
