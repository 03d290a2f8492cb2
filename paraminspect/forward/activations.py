"""Activation memory of one forward pass, as distinct storages: what autograd saves for the
backward pass (seen through torch.autograd.graph.saved_tensors_hooks) and what the modules
return. A view and its base share a storage and count once; the model's own parameters and
buffers and the example inputs are excluded (they are weights and inputs, not activations).
On meta and fake tensors a storage has a size and no memory, so this costs nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from paraminspect.forward.stats_data import DtypeBytes
from paraminspect.tensors.records import dtype_name


def storage_key(t: torch.Tensor) -> tuple[Any, int]:
    """(identity of the storage, its bytes); a tensor without a storage (sparse, nested)
    is its own storage of numel x element size."""
    try:
        storage = t.untyped_storage()
        return storage._cdata, int(storage.nbytes())
    except Exception:
        return ("tensor", id(t)), int(t.numel()) * t.element_size()


class StorageLedger:
    """Distinct storages seen, per dtype, minus the excluded ones."""

    def __init__(self, excluded: Iterable[torch.Tensor] = ()) -> None:
        self._seen: set[Any] = {storage_key(t)[0] for t in excluded}
        self._keep: list[torch.Tensor] = []  # storages stay alive, so their identities stay unique
        self._totals: dict[str, list[int]] = {}

    def add(self, t: torch.Tensor) -> None:
        key, nbytes = storage_key(t)
        if key in self._seen:
            return
        self._seen.add(key)
        self._keep.append(t)
        row = self._totals.setdefault(dtype_name(t.dtype), [0, 0])
        row[0] += 1
        row[1] += nbytes

    def by_dtype(self) -> tuple[DtypeBytes, ...]:
        rows = (DtypeBytes(dtype, n, size) for dtype, (n, size) in self._totals.items())
        return tuple(sorted(rows, key=lambda d: (-d.bytes, d.dtype)))

    def release(self) -> None:
        self._keep.clear()


@contextmanager
def saved_for_backward(ledger: StorageLedger) -> Iterator[StorageLedger]:
    """Every tensor autograd saves for backward inside the block goes into `ledger`."""

    def pack(t: torch.Tensor) -> torch.Tensor:
        ledger.add(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, _unpack):
        yield ledger


def _unpack(t: torch.Tensor) -> torch.Tensor:
    return t
