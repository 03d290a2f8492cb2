"""safetensors files: the 8-byte header length and the JSON header are parsed here; tensor data
is never read, so listing costs the same for a 10 MB and a 10 GB file."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

from paraminspect.errors import LoadError, exception_line
from paraminspect.loaders.checkpoints.stored import MAX_HEADER_BYTES, SAFETENSORS_DTYPES, Listing, StoredTensor

# Element sizes in bits of the sub-byte codes (SAFETENSORS_DTYPES has None for them): the
# format requires a tensor's bits to fill whole bytes.
SUB_BYTE_BITS = {"F4": 4}
INT64_MAX = 2**63 - 1


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def read_safetensors_header(path: Path) -> tuple[dict[str, Any], int]:
    """The JSON header and the size of the data section, reading only the header bytes."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise LoadError(f"{path}: not a safetensors file ({size} bytes, too short for a header)")
            (length,) = struct.unpack("<Q", prefix)
            if length < 2 or length > MAX_HEADER_BYTES:
                raise LoadError(f"{path}: not a safetensors file (header length {length} is not plausible)")
            if 8 + length > size:
                raise LoadError(f"{path}: truncated safetensors file (header needs {length} bytes, file has {size})")
            raw = fh.read(length)
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: also a 5,000-digit number
        raise LoadError(f"{path}: corrupt safetensors header (not JSON: {exception_line(exc)})") from None
    except RecursionError:
        raise LoadError(f"{path}: corrupt safetensors header (nested too deep)") from None
    if not isinstance(header, dict):
        raise LoadError(f"{path}: corrupt safetensors header (expected a JSON object)")
    return header, size - 8 - length


def _safetensors_entry(path: Path, name: str, info: Any, data_size: int) -> StoredTensor:
    bad = f"{path}: corrupt safetensors header (entry {name!r}"
    if not isinstance(info, dict):
        raise LoadError(f"{bad} is not an object)")
    code, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(code, str):
        raise LoadError(f"{bad} has no dtype)")
    if not (isinstance(shape, list) and all(type(s) is int and 0 <= s <= INT64_MAX for s in shape)):
        raise LoadError(f"{bad} has a bad shape {_short(shape)})")
    if code not in SAFETENSORS_DTYPES:
        raise LoadError(f"{bad} has an unknown dtype {_short(code)})")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
        raise LoadError(f"{bad} has bad data_offsets {_short(offsets)})")
    begin, end = offsets
    if not 0 <= begin <= end:
        raise LoadError(f"{bad} has bad data_offsets {offsets!r})")
    if end > data_size:
        raise LoadError(
            f"{path}: truncated safetensors file (tensor {name!r} ends at data byte {end:,}, "
            f"the file holds {data_size:,})"
        )
    dtype, itemsize = SAFETENSORS_DTYPES[code]
    numel = math.prod(shape)
    if numel > INT64_MAX:
        raise LoadError(f"{bad}: shape {shape} has more elements than int64 can count)")
    bits = numel * (SUB_BYTE_BITS[code] if itemsize is None else int(itemsize) * 8)
    if bits % 8 or bits // 8 != end - begin:
        raise LoadError(f"{bad}: {code}{shape} needs {bits / 8:,g} bytes, offsets give {end - begin:,})")
    return StoredTensor(name=name, dtype=dtype, shape=tuple(shape), nbytes=end - begin)


def refusal(header: dict[str, Any], tensors: list[tuple[str, int, int]], data_size: int) -> str | None:
    """Why the safetensors library would refuse a file whose entries each parse (`tensors`:
    name, first and end data byte), checked as it checks: `__metadata__` a map of strings to
    strings (or null); the tensors, in the order of their offsets, covering the data section
    from its first byte to its last, each starting where the one before ends (no overlap, no
    gap, nothing after the last). None when it loads."""
    metadata = header.get("__metadata__")
    if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        return f"its __metadata__ is not a map of strings to strings ({_short(metadata, 60)})"
    end = 0
    for name, first, last in sorted(tensors, key=lambda t: (t[1], t[2])):
        if first < end:
            return f"tensor {name!r} (data bytes {first:,}-{last:,}) overlaps the one before it (which ends at {end:,})"
        if first > end:
            return f"{first - end:,} data bytes before tensor {name!r} belong to no tensor"
        end = last
    if end != data_size:
        return f"its tensors cover {end:,} of its {data_size:,} data bytes (the file is not fully covered)"
    return None


def read_safetensors(path: Path) -> tuple[list[StoredTensor], str | None]:
    """The tensors of a safetensors file's header, and why the safetensors library refuses
    to load the file (None when it loads). A header that cannot be listed raises LoadError."""
    header, data_size = read_safetensors_header(path)
    entries = [(name, info) for name, info in header.items() if name != "__metadata__"]
    tensors = [_safetensors_entry(path, name, info, data_size) for name, info in entries]
    spans = [(name, *info["data_offsets"]) for name, info in entries]
    return tensors, refusal(header, spans, data_size)


def refused_note(path: Path, why: str) -> str:
    return f"the safetensors library refuses to load {path}: {why}"


def list_safetensors(path: Path) -> list[StoredTensor]:
    return read_safetensors(path)[0]


def safetensors_listing(path: Path, trust_pickle: bool = False) -> Listing:
    """The lister of the safetensors form (paraminspect.forms): headers only, no code."""
    tensors, why = read_safetensors(path)
    listing = Listing(tensors=tensors)
    if why is not None:
        listing.refused = refused_note(path, why)
        listing.notes.append(listing.refused)
    return listing
