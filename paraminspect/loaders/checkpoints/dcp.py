"""torch.distributed.checkpoint folders (`.metadata` + `*.distcp`: what FSDP, torchtitan and
`dcp.save` write) as MODEL: fully qualified names, global shapes, dtypes, chunks and sizes, from
the `.metadata` file alone; the `.distcp` files are only stat'ed.

`.metadata` is a pickle of torch's `Metadata` dataclass. It is never unpickled with the full
pickle machinery: dcp_pickle.py's restricted unpickler maps what such a file holds to plain
stand-ins and refuses everything else, so listing imports no torch and a hostile file cannot
run code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paraminspect.errors import LoadError
from paraminspect.loaders.checkpoints.dcp_pickle import (
    DTYPES,
    BytesStorageMetadata,
    ChunkStorageMetadata,
    Metadata,
    MetadataIndex,
    Record,
    StorageInfo,
    TensorProperties,
    TensorStorageMetadata,
    TorchName,
    unpickle_metadata,
)
from paraminspect.loaders.checkpoints.stored import STATE_DICT_KEYS, Listing, StoredTensor

METADATA_FILE = ".metadata"
# --- what a listing reports ---------------------------------------------------------------------

Chunk = tuple[tuple[int, ...], tuple[int, ...]]  # (offsets, sizes) in the global tensor


@dataclass(frozen=True)
class DcpInfo:
    """What a DCP checkpoint's metadata records beside the tensors' names, shapes and dtypes."""

    version: str | None  # the DCP format version (torch >= 2.4 writes "1.0.0")
    metadata_files: tuple[str, ...]  # `.metadata`, or the rank-local `__N.metadata` files
    files: dict[str, int]  # data file -> bytes the metadata places in it
    chunks: dict[str, tuple[Chunk, ...]]  # listed tensor -> its chunks
    objects: dict[str, int | None]  # listed non-tensor entries -> bytes stored (torch.save'd objects)
    stored_bytes: int  # every item of every file, as saved (tensors are torch.save'd: a header each)
    selected: str | None  # the top-level key whose state_dict is listed ("model"), else None
    others: dict[str, int] = field(default_factory=dict)  # other top-level keys -> their entries

    def facts(self) -> dict[str, Any]:
        return {"format": "dcp", "selected": self.selected}

    def chunk_summary(self, name: str, shape: tuple[int, ...]) -> str:
        return chunk_summary(self.chunks.get(name, ()), shape)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": "dcp",
            "version": self.version,
            "metadata_files": list(self.metadata_files),
            "files": dict(self.files),
            "stored_bytes": self.stored_bytes,
            "selected": self.selected,
            "others": dict(self.others),
            "objects": dict(self.objects),
            "chunks": {n: [{"offsets": list(o), "sizes": list(s)} for o, s in c] for n, c in self.chunks.items()},
        }

    def describe(self) -> str:
        version = f" {self.version}" if self.version else ""
        chunked = sum(1 for c in self.chunks.values() if len(c) > 1)
        most = max((len(c) for c in self.chunks.values()), default=0)
        files = len(self.files)
        parts = [
            f"torch.distributed.checkpoint{version}: {len(self.chunks):,} tensors in {files:,} "
            f"file{'' if files == 1 else 's'} ({_size_text(self.stored_bytes)} as saved)"
        ]
        if chunked:
            parts.append(f"{chunked:,} sharded (up to {most:,} chunks each)")
        return ", ".join(parts)


def _size_text(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000:
            return f"{n:,} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def chunk_summary(chunks: tuple[Chunk, ...], shape: tuple[int, ...]) -> str:
    """`1 chunk`, `4 chunks along dim 0 (2 rows each)`, or the first chunks' slices."""
    if len(chunks) <= 1:
        return "1 chunk" if chunks else "no chunks"
    axes = {i for _, sizes in chunks for i, s in enumerate(sizes) if i < len(shape) and s != shape[i]}
    if len(axes) == 1:
        (axis,) = axes
        sizes = {s[axis] for _, s in chunks}
        each = f"{next(iter(sizes)):,} each" if len(sizes) == 1 else "uneven"
        return f"{len(chunks):,} chunks along dim {axis} ({each})"
    shown = " ".join(
        "[" + ", ".join(f"{o}:{o + s}" for o, s in zip(offsets, sizes, strict=False)) + "]"
        for offsets, sizes in chunks[:3]
    )
    return f"{len(chunks):,} chunks: {shown}{' ...' if len(chunks) > 3 else ''}"


# --- reading -------------------------------------------------------------------------------------


def metadata_files(folder: Path) -> list[Path]:
    """The metadata a DCP folder holds: `.metadata`, else the rank-local `__N.metadata` files
    that a save without collectives writes."""
    main = folder / METADATA_FILE
    if main.is_file():
        return [main]
    ranked = [p for p in folder.glob(f"__*{METADATA_FILE}") if p.name[2 : -len(METADATA_FILE)].isdigit()]
    return sorted(ranked, key=lambda p: int(p.name[2 : -len(METADATA_FILE)]))


def is_dcp_folder(path: Path) -> bool:
    """A folder holding a DCP `.metadata` (or rank-local `__N.metadata`) file."""
    return path.is_dir() and bool(metadata_files(path))


def _bad(path: Path, what: str) -> LoadError:
    return LoadError(f"{path}: not torch.distributed.checkpoint metadata ({what})")


@dataclass
class _Entries:
    tensors: dict[str, tuple[str, tuple[int, ...], list[Chunk]]] = field(default_factory=dict)
    objects: dict[str, None] = field(default_factory=dict)
    storage: dict[tuple[str, tuple[int, ...] | None], tuple[str, int, int]] = field(default_factory=dict)
    planner: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    version: str | None = None


def _sizes(value: Any) -> tuple[int, ...] | None:
    """A torch.Size as the stand-in made it (a tuple of sizes), else None."""
    if isinstance(value, tuple) and all(type(v) is int and v >= 0 for v in value):
        return value
    return None


def _read_one(path: Path, into: _Entries) -> None:
    md = unpickle_metadata(path)
    if not isinstance(md, Metadata):
        raise _bad(path, f"it holds {type(md).__name__ if not isinstance(md, Record) else 'other metadata'}")
    entries = md.get("state_dict_metadata")
    if not isinstance(entries, dict):
        raise _bad(path, "no state_dict_metadata")
    for fqn, entry in entries.items():
        if not isinstance(fqn, str):
            raise _bad(path, "a name that is not a string")
        if isinstance(entry, BytesStorageMetadata):
            into.objects[fqn] = None
        elif isinstance(entry, TensorStorageMetadata):
            _add_tensor(path, into, fqn, entry)
        else:
            raise _bad(path, f"entry {fqn[:100]!r} is neither a tensor nor bytes")
    version = md.get("version")
    into.version = version if isinstance(version, str) else into.version
    planner = md.get("planner_data")
    if isinstance(planner, dict):
        into.planner.update({k: v for k, v in planner.items() if isinstance(k, str) and isinstance(v, tuple)})
    storage = md.get("storage_data")
    if isinstance(storage, dict):
        for index, where in storage.items():
            if not isinstance(index, MetadataIndex) or not isinstance(where, StorageInfo):
                continue
            fqn, offset = index.get("fqn"), index.get("offset")
            rel, start, length = where.get("relative_path"), where.get("offset"), where.get("length")
            if isinstance(fqn, str) and isinstance(rel, str) and type(start) is int and type(length) is int:
                into.storage[(fqn, _sizes(offset))] = (rel, start, length)


def _add_tensor(path: Path, into: _Entries, fqn: str, entry: TensorStorageMetadata) -> None:
    props, size, chunks = entry.get("properties"), _sizes(entry.get("size")), entry.get("chunks")
    dtype = props.get("dtype") if isinstance(props, TensorProperties) else None
    if not (isinstance(dtype, TorchName) and dtype.kind == "dtype" and dtype.name in DTYPES):
        raise _bad(path, f"tensor {fqn[:100]!r} has no dtype")
    if size is None or not isinstance(chunks, list):
        raise _bad(path, f"tensor {fqn[:100]!r} has no size or chunks")
    parsed: list[Chunk] = []
    for chunk in chunks:
        offsets = _sizes(chunk.get("offsets")) if isinstance(chunk, ChunkStorageMetadata) else None
        sizes = _sizes(chunk.get("sizes")) if isinstance(chunk, ChunkStorageMetadata) else None
        if offsets is None or sizes is None or not len(offsets) == len(sizes) == len(size):
            raise _bad(path, f"tensor {fqn[:100]!r} has a malformed chunk")
        if any(o + s > d for o, s, d in zip(offsets, sizes, size, strict=True)):
            raise _bad(path, f"tensor {fqn[:100]!r} has a chunk outside its size {list(size)}")
        parsed.append((offsets, sizes))
    known = into.tensors.get(fqn)
    if known is not None:  # rank-local metadata files: one tensor's chunks spread over several
        if known[:2] != (dtype.name, size):
            raise _bad(
                path, f"tensor {fqn[:100]!r} is {dtype.name}{list(size)} here, {known[0]}{list(known[1])} elsewhere"
            )
        known[2].extend(parsed)
    else:
        into.tensors[fqn] = (dtype.name, size, parsed)


def _check_files(folder: Path, entries: _Entries) -> dict[str, int]:
    """Every data file the metadata names: inside the folder, present, long enough (stat only)."""
    root = folder.resolve()
    needed: dict[str, int] = {}
    for rel, start, length in entries.storage.values():
        if start < 0 or length < 0:
            raise LoadError(f"{folder}: corrupt checkpoint metadata (a negative offset or length in {rel!r})")
        needed[rel] = max(needed.get(rel, 0), start + length)
    stored: dict[str, int] = {}
    for rel, end in needed.items():
        target = (folder / rel).resolve()
        if target == root or not target.is_relative_to(root):
            raise LoadError(f"{folder}: data file {rel!r} lies outside the checkpoint folder: refused")
        try:
            size = target.stat().st_size
        except OSError:
            raise LoadError(f"{folder}: data file {rel!r}, which the metadata names, is missing") from None
        if size < end:
            raise LoadError(f"{folder}: truncated checkpoint ({rel} holds {size:,} bytes, the metadata needs {end:,})")
    for rel, _, length in entries.storage.values():
        stored[rel] = stored.get(rel, 0) + length
    return stored


def _group(entries: _Entries, fqn: str) -> str | None:
    """The top-level key of the saved nested dict an entry came from (None: a top-level entry),
    from the planner's flattening map (fqn -> path)."""
    path = entries.planner.get(fqn)
    return path[0] if path and len(path) > 1 and isinstance(path[0], str) else None


def _select(entries: _Entries) -> tuple[str | None, bool, dict[str, int]]:
    """What to list: the state_dict under a usual key (`model`, `state_dict`: like a torch
    file's {"model": ..., "optimizer": ...}), else only the top-level tensors when nested dicts
    hold tensors too (torchtitan: the model's tensors at the top, `optimizer.*` nested), else
    everything. Returns (key, top-level only, the other keys -> their entries)."""
    tensor_groups = {g for g in (_group(entries, f) for f in entries.tensors) if g}
    counts: dict[str, int] = {}
    for fqn in [*entries.tensors, *entries.objects]:
        g = _group(entries, fqn)
        if g:
            counts[g] = counts.get(g, 0) + 1
    for key in STATE_DICT_KEYS:
        if key in tensor_groups:
            return key, False, {g: n for g, n in counts.items() if g != key}
    top_level = any(_group(entries, f) is None for f in entries.tensors)
    if tensor_groups and top_level:
        return None, True, {g: n for g, n in counts.items() if g in tensor_groups}
    return None, False, {}


def _listed(entries: _Entries, fqn: str, selected: str | None, top_only: bool) -> str | None:
    """The name an entry is listed under, or None when it is not listed."""
    if selected:
        return fqn[len(selected) + 1 :] if _group(entries, fqn) == selected else None
    if top_only and _group(entries, fqn) is not None:
        return None
    return fqn


def read_dcp(spec_path: Path) -> tuple[DcpInfo, list[StoredTensor], list[str]]:
    """A DCP checkpoint's tensors (the model's state_dict when the checkpoint nests one under
    `model`/`state_dict`/...), its info, and notes. Raises LoadError."""
    if spec_path.is_file():  # the .metadata file itself
        folder, files = spec_path.parent, [spec_path]
    else:
        folder, files = spec_path, metadata_files(spec_path)
    if not files:
        raise LoadError(f"{folder}: no {METADATA_FILE} file: not a torch.distributed.checkpoint folder")
    entries = _Entries()
    for f in files:
        _read_one(f, entries)
    stored = _check_files(folder, entries)
    selected, top_only, others = _select(entries)
    notes: list[str] = []
    if len(files) > 1:
        notes.append(f"{len(files)} rank-local metadata files (saved without collectives), merged")
    tensors: list[StoredTensor] = []
    chunks: dict[str, tuple[Chunk, ...]] = {}
    for fqn, (dtype, size, parts) in entries.tensors.items():
        name = _listed(entries, fqn, selected, top_only)
        if name is None:
            continue
        numel = math.prod(size)
        tensors.append(StoredTensor(name=name, dtype=dtype, shape=size, nbytes=int(numel * DTYPES[dtype][1])))
        chunks[name] = tuple(parts)
        covered = sum(math.prod(s) for _, s in parts)
        if covered < numel:
            notes.append(f"{name}: its chunks cover {covered:,} of {numel:,} elements (a partial checkpoint?)")
    objects: dict[str, int | None] = {}
    for fqn in entries.objects:
        name = _listed(entries, fqn, selected, top_only)
        if name is not None:
            objects[name] = entries.storage[(fqn, None)][2] if (fqn, None) in entries.storage else None
    info = DcpInfo(
        version=entries.version,
        metadata_files=tuple(f.name for f in files),
        files=stored,
        chunks=chunks,
        objects=objects,
        stored_bytes=sum(stored.values()),
        selected=selected,
        others=others,
    )
    notes.insert(0, info.describe())
    if selected or top_only:
        also = ", ".join(f"{g} ({n:,} entr{'y' if n == 1 else 'ies'})" for g, n in others.items())
        where = f"listing the state_dict under {selected!r}" if selected else "listing the top-level tensors"
        notes.insert(1, where + (f" (the checkpoint also holds: {also})" if also else ""))
    if objects:
        shown = ", ".join(list(objects)[:6]) + (", ..." if len(objects) > 6 else "")
        notes.append(f"{len(objects):,} non-tensor entr{'y' if len(objects) == 1 else 'ies'} (not listed): {shown}")
    return info, tensors, notes


def dcp_listing(path: Path, trust_pickle: bool = False) -> Listing:
    info, tensors, notes = read_dcp(path)
    if not tensors:
        raise LoadError(f"{path}: the checkpoint holds no tensors")
    return Listing(tensors=tensors, notes=notes, info=info)
