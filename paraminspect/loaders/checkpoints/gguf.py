"""GGUF files (llama.cpp) as MODEL: tensor names, GGML types, shapes, sizes and a metadata
summary, from the header only.

The header (magic, version, counts, key/value metadata, tensor infos) is parsed here with
bounded reads through a small window; the data section is never read, so a 40 GB file lists
as fast as a 4 MB one. gguf's own GGUFReader is not used for listing: it memory-maps the whole
file, walks every tokenizer string into numpy parts and builds a view of every tensor (so a
truncated or sparse data section fails it), and it trusts the header's counts. The `gguf`
package (the `gguf` extra) supplies the GGML type table and the file-type names.

Every count and length in the header is checked against the bytes the file holds before
anything is allocated or walked: a header claiming 2**60 tensors or a 2**60-byte string is a
one-line LoadError. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import math
import re
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from paraminspect.errors import LoadError
from paraminspect.loaders.checkpoints.stored import Listing, StoredTensor

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_DIMS = 4  # GGML_MAX_DIMS
INT64_MAX = 2**63 - 1
WINDOW = 64 * 1024  # read-ahead: the header is read in windows this size
MAX_NAME_BYTES = 4096  # llama.cpp itself caps tensor names at 63 bytes
MAX_KEY_BYTES = 65536
KEEP_STRING = 256  # characters of a metadata string kept; longer ones are summarised
KEEP_ARRAY = 16  # items of a metadata array kept; longer ones are summarised by length
MAX_NESTING = 3  # arrays of arrays
# Header items walked in all (keys, tensor infos, array items): a real file has well under a
# million (a 262k-token vocabulary and its merges); a hostile one cannot make the walk run long.
MAX_ITEMS = 8_000_000
# Smallest encodings, to check counts against the bytes left before walking them.
MIN_KV_BYTES = 8 + 4 + 1
MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8

# GGUF value types: struct code of each scalar type (8 is string, 9 array).
SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q", 12: "d"}
STRING, ARRAY, BOOL = 8, 9, 7
VALUE_TYPE_NAMES = {
    0: "uint8",
    1: "int8",
    2: "uint16",
    3: "int16",
    4: "uint32",
    5: "int32",
    6: "float32",
    7: "bool",
    8: "string",
    9: "array",
    10: "uint64",
    11: "int64",
    12: "float64",
}
# GGML types that are plain element types, shown under torch's dtype names.
PLAIN_TYPES = {
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F64": "float64",
    "I8": "int8",
    "I16": "int16",
    "I32": "int32",
    "I64": "int64",
}
SPLIT_NAME = re.compile(r"^(?P<stem>.*)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)


class _Corrupt(Exception):
    """A header problem, turned into a LoadError naming the file."""


class _Truncated(_Corrupt):
    pass


@dataclass(frozen=True)
class Omitted:
    """A metadata value too long to keep: what it was and how long."""

    what: str  # "string", or "array of <item type>"
    length: int

    def __str__(self) -> str:
        unit = "bytes" if self.what == "string" else "items"
        return f"{self.what} of {self.length:,} {unit}"


@dataclass(frozen=True)
class GgufTensor:
    name: str
    ggml_type: str  # GGML's name: F32, F16, Q8_0, Q4_K, ...
    shape: tuple[int, ...]  # PyTorch order (GGUF stores ne[0], the innermost dimension, first)
    nbytes: int
    offset: int  # into the data section


@dataclass(frozen=True)
class GgufInfo:
    """What a GGUF header records beside its tensors: plain data."""

    version: int
    byte_order: str
    alignment: int
    data_offset: int  # where the data section starts (the header's size, padded)
    file_size: int
    metadata: dict[str, Any]  # every key; long strings and arrays as Omitted
    tensor_types: dict[str, int]  # GGML type -> tensors of that type

    def _arch_value(self, field: str) -> Any:
        arch = self.metadata.get("general.architecture")
        return self.metadata.get(f"{arch}.{field}") if isinstance(arch, str) else None

    def summary(self) -> dict[str, Any]:
        """The well-known fields (None where the file does not record them)."""
        md = self.metadata
        vocab = self._arch_value("vocab_size")
        tokens = md.get("tokenizer.ggml.tokens")
        if vocab is None and isinstance(tokens, (Omitted, list)):
            vocab = tokens.length if isinstance(tokens, Omitted) else len(tokens)
        return {
            "architecture": md.get("general.architecture"),
            "name": md.get("general.name"),
            "context_length": self._arch_value("context_length"),
            "block_count": self._arch_value("block_count"),
            "embedding_length": self._arch_value("embedding_length"),
            "feed_forward_length": self._arch_value("feed_forward_length"),
            "head_count": self._arch_value("attention.head_count"),
            "head_count_kv": self._arch_value("attention.head_count_kv"),
            "expert_count": self._arch_value("expert_count"),
            "vocab_size": vocab,
            "file_type": file_type_name(md.get("general.file_type")),
            "quantization_version": md.get("general.quantization_version"),
            "tokenizer_model": md.get("tokenizer.ggml.model"),
            "split": (md.get("split.no"), md.get("split.count")) if md.get("split.count") else None,
        }

    def facts(self) -> dict[str, Any]:
        """What diff's explainers use (diffs/gguf_names.py): plain and small."""
        s = self.summary()
        keep = ("architecture", "block_count", "head_count", "head_count_kv", "file_type")
        return {"format": "gguf", **{k: s[k] for k in keep}}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary, the type counts and every metadata key (long values summarised)."""
        return {
            "format": "gguf",
            "version": self.version,
            "byte_order": self.byte_order,
            "alignment": self.alignment,
            "data_offset": self.data_offset,
            "summary": self.summary(),
            "tensor_types": dict(self.tensor_types),
            "metadata": {k: _jsonable(v) for k, v in self.metadata.items()},
        }

    def describe(self) -> str:
        """One line for a note: what the file is."""
        s = self.summary()
        parts = [f"GGUF v{self.version}"]
        if s["architecture"]:
            parts.append(str(s["architecture"]) + (f" {s['name']!r}" if s["name"] else ""))
        for key, label in (
            ("block_count", "block"),
            ("context_length", "context"),
            ("embedding_length", "embedding"),
            ("vocab_size", "vocab"),
        ):
            value = s[key]
            if isinstance(value, int):
                block = f"{value:,} block{'' if value == 1 else 's'}"
                parts.append(block if key == "block_count" else f"{label} {value:,}")
        if s["head_count"] is not None:
            kv = f" (kv {_short(s['head_count_kv'])})" if s["head_count_kv"] is not None else ""
            parts.append(f"heads {_short(s['head_count'])}{kv}")
        if s["file_type"]:
            parts.append(f"file type {s['file_type']}")
        if s["tokenizer_model"]:
            parts.append(f"tokenizer {s['tokenizer_model']}")
        return " · ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, list):  # per-layer head counts
        distinct = list(dict.fromkeys(str(v) for v in value))
        return "/".join(distinct[:4]) + (" per layer" if len(distinct) > 1 else "")
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Omitted):
        return {"omitted": value.what, "length": value.length}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def file_type_name(value: Any) -> str | None:
    """general.file_type (llama.cpp's llama_ftype) as its quantisation name: 15 -> Q4_K_M."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    from gguf.constants import LlamaFileType

    try:
        name = LlamaFileType(value).name
    except ValueError:
        return f"file type {value}"
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


def dtype_name(ggml_type: str) -> str:
    """A GGML type as a listing's dtype: plain types under torch's names, quantized ones as GGML names them."""
    return PLAIN_TYPES.get(ggml_type, ggml_type)


def _type_table() -> dict[int, tuple[str, int, int]]:
    """GGML type id -> (name, block size in elements, bytes per block), from the gguf package."""
    try:
        from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
    except ImportError:
        raise LoadError(
            "reading a .gguf file needs the gguf package: pip install 'paraminspect[gguf]' (or pip install gguf)"
        ) from None
    return {int(t): (t.name, *GGML_QUANT_SIZES[t]) for t in GGMLQuantizationType if t in GGML_QUANT_SIZES}


class _Cursor:
    """Sequential reads through a window of the file: never past its end, and never a read of
    more than a window beyond what the header needs."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.size, self.order = fh, size, "<"
        self.buf, self.start, self.pos = b"", 0, 0
        self.items = 0

    @property
    def offset(self) -> int:
        return self.start + self.pos

    def left(self) -> int:
        return self.size - self.offset

    def _need(self, n: int, what: str) -> None:
        if n > self.left():
            raise _Truncated(f"{what} needs {n:,} bytes at byte {self.offset:,}, the file has {self.left():,} left")
        if self.pos + n <= len(self.buf):
            return
        tail = self.buf[self.pos :]
        self.start += self.pos
        self.fh.seek(self.start + len(tail))
        self.buf = tail + self.fh.read(min(max(n, WINDOW), self.size - self.start) - len(tail))
        self.pos = 0
        if len(self.buf) < n:
            raise _Truncated(f"{what}: the file ended at byte {self.start + len(self.buf):,} while it was read")

    def take(self, n: int, what: str) -> bytes:
        self._need(n, what)
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def skip(self, n: int, what: str) -> None:
        if n > self.left():
            raise _Truncated(f"{what} needs {n:,} bytes at byte {self.offset:,}, the file has {self.left():,} left")
        if self.pos + n <= len(self.buf):
            self.pos += n
        else:
            self.start, self.buf, self.pos = self.offset + n, b"", 0

    def scalar(self, code: str, what: str) -> Any:
        size = struct.calcsize(code)
        self._need(size, what)
        (value,) = struct.unpack_from(self.order + code, self.buf, self.pos)
        self.pos += size
        return value

    def count(self, n: int, what: str) -> None:
        """Charge `n` walked items to the header's budget."""
        self.items += n
        if self.items > MAX_ITEMS:
            raise _Corrupt(f"{what}: the header holds more than {MAX_ITEMS:,} items; not a plausible GGUF header")

    def string(self, keep: int, what: str, limit: int | None = None) -> str | Omitted:
        length = self.scalar("Q", what)
        if limit is not None and length > limit:
            raise _Corrupt(f"{what} is {length:,} bytes long (at most {limit:,} expected)")
        if length > keep * 4:  # a UTF-8 character is at most 4 bytes
            self.skip(length, what)
            return Omitted("string", length)
        text = self.take(length, what).decode("utf-8", errors="replace" if limit is None else "strict")
        return text if len(text) <= keep else Omitted("string", length)

    def skip_strings(self, count: int, what: str) -> None:
        """Walk past `count` strings (a tokenizer's vocabulary): the hot loop of a listing, so
        it works on the window directly and calls out only at a window's edge."""
        length_of = struct.Struct(self.order + "Q").unpack_from
        buf, pos = self.buf, self.pos
        for _ in range(count):
            if pos + 8 > len(buf):
                self.pos = pos
                self._need(8, what)
                buf, pos = self.buf, self.pos
            (length,) = length_of(buf, pos)
            pos += 8
            if pos + length <= len(buf):
                pos += length
            else:
                self.pos = pos
                self.skip(length, what)
                buf, pos = self.buf, self.pos
        self.pos = pos


def _value(cur: _Cursor, vtype: int, what: str, depth: int = 0) -> Any:
    if vtype in SCALARS:
        value = cur.scalar(SCALARS[vtype], what)
        return bool(value) if vtype == BOOL else value
    if vtype == STRING:
        return cur.string(KEEP_STRING, what)
    if vtype != ARRAY:
        raise _Corrupt(f"{what} has an unknown value type {vtype}")
    if depth >= MAX_NESTING:
        raise _Corrupt(f"{what}: arrays nested more than {MAX_NESTING} deep")
    item_type = cur.scalar("I", what)
    count = cur.scalar("Q", what)
    if item_type not in SCALARS and item_type not in (STRING, ARRAY):
        raise _Corrupt(f"{what} is an array of an unknown value type {item_type}")
    # the smallest an item can be: a scalar's size, a string's length, an array's type and count
    item_size = struct.calcsize(SCALARS[item_type]) if item_type in SCALARS else 8 if item_type == STRING else 12
    if count * item_size > cur.left():
        raise _Truncated(f"{what} claims {count:,} items, more than the {cur.left():,} bytes left can hold")
    if item_type not in SCALARS or count <= KEEP_ARRAY:  # a long numeric array is skipped in one step
        cur.count(count, what)
    item_name = VALUE_TYPE_NAMES[item_type]
    if count <= KEEP_ARRAY:
        return [_value(cur, item_type, what, depth + 1) for _ in range(count)]
    if item_type in SCALARS:
        cur.skip(count * item_size, what)
    elif item_type == STRING:
        cur.skip_strings(count, what)
    else:
        for _ in range(count):
            _value(cur, item_type, what, depth + 1)
    return Omitted(f"array of {item_name}", count)


def _read_metadata(cur: _Cursor, count: int) -> dict[str, Any]:
    if count * MIN_KV_BYTES > cur.left():
        raise _Corrupt(f"the header claims {count:,} metadata keys, more than a {cur.size:,}-byte file can hold")
    metadata: dict[str, Any] = {}
    for index in range(count):
        cur.count(1, "metadata")
        key = cur.string(MAX_KEY_BYTES, f"metadata key {index}", limit=MAX_KEY_BYTES)
        assert isinstance(key, str)
        if key in metadata:
            raise _Corrupt(f"metadata key {key!r} appears twice")
        metadata[key] = _value(cur, cur.scalar("I", key), f"metadata {key!r}")
    return metadata


def _alignment(metadata: dict[str, Any]) -> int:
    value = metadata.get("general.alignment", 32)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or value & (value - 1):
        raise _Corrupt(f"general.alignment {value!r} is not a power of two")
    return value


def _read_tensor_infos(cur: _Cursor, count: int, types: dict[int, tuple[str, int, int]]) -> list[GgufTensor]:
    if count * MIN_TENSOR_INFO_BYTES > cur.left():
        raise _Corrupt(f"the header claims {count:,} tensors, more than a {cur.size:,}-byte file can describe")
    tensors: list[GgufTensor] = []
    seen: set[str] = set()
    for index in range(count):
        cur.count(1, "tensor infos")
        name = cur.string(MAX_NAME_BYTES, f"tensor name {index}", limit=MAX_NAME_BYTES)
        assert isinstance(name, str)
        if name in seen:
            raise _Corrupt(f"tensor {name!r} appears twice")
        seen.add(name)
        n_dims = cur.scalar("I", name)
        if n_dims > MAX_DIMS:
            raise _Corrupt(f"tensor {name!r} has {n_dims:,} dimensions (GGML allows {MAX_DIMS})")
        dims = [cur.scalar("Q", name) for _ in range(n_dims)]
        type_id, offset = cur.scalar("I", name), cur.scalar("Q", name)
        if type_id not in types:
            raise _Corrupt(f"tensor {name!r} has GGML type {type_id}, which this gguf package does not know")
        type_name, block, block_bytes = types[type_id]
        numel = math.prod(dims)
        if any(d > INT64_MAX for d in dims) or numel > INT64_MAX:
            raise _Corrupt(f"tensor {name!r} has implausible dimensions {dims}")
        if dims and dims[0] % block:
            raise _Corrupt(f"tensor {name!r}: {type_name} packs {block} elements a block, its rows hold {dims[0]:,}")
        tensors.append(GgufTensor(name, type_name, tuple(reversed(dims)), numel // block * block_bytes, offset))
    return tensors


def read_gguf(path: Path) -> tuple[GgufInfo, list[GgufTensor]]:
    """The header of one GGUF file: its metadata and tensor infos (data never read). Raises LoadError."""
    types = _type_table()
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            return _parse(fh, size, types)
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    except _Truncated as exc:
        raise LoadError(f"{path}: truncated GGUF file ({exc})") from None
    except _Corrupt as exc:
        raise LoadError(f"{path}: corrupt GGUF header ({exc})") from None
    except UnicodeDecodeError:
        raise LoadError(f"{path}: corrupt GGUF header (a name that is not UTF-8)") from None


def _parse(fh: BinaryIO, size: int, types: dict[int, tuple[str, int, int]]) -> tuple[GgufInfo, list[GgufTensor]]:
    cur = _Cursor(fh, size)
    if size < 4 or cur.take(4, "magic") != MAGIC:
        raise LoadError(f"{fh.name}: not a GGUF file (it does not start with 'GGUF')")
    raw = cur.take(4, "version")
    version, order = struct.unpack("<I", raw)[0], "<"
    if version & 0xFFFF == 0:  # written on a big-endian machine
        version, order = struct.unpack(">I", raw)[0], ">"
    cur.order = order
    if version not in SUPPORTED_VERSIONS:
        older = " (GGUF v1, from before August 2023: convert the model again)" if version == 1 else ""
        raise LoadError(f"{fh.name}: GGUF version {version} is not supported{older}")
    tensor_count, kv_count = cur.scalar("Q", "tensor count"), cur.scalar("Q", "metadata count")
    metadata = _read_metadata(cur, kv_count)
    tensors = _read_tensor_infos(cur, tensor_count, types)
    alignment = _alignment(metadata)
    data_offset = -(-cur.offset // alignment) * alignment
    for t in tensors:
        if t.offset % alignment:
            raise _Corrupt(f"tensor {t.name!r} starts at data byte {t.offset:,}, not a multiple of {alignment}")
        end = data_offset + t.offset + t.nbytes
        if end > size:
            raise _Truncated(f"tensor {t.name!r} ends at byte {end:,}, the file has {size:,}")
    info = GgufInfo(
        version=version,
        byte_order="big" if order == ">" else "little",
        alignment=alignment,
        data_offset=data_offset,
        file_size=size,
        metadata=metadata,
        tensor_types=dict(Counter(t.ggml_type for t in tensors).most_common()),
    )
    return info, tensors


def split_files(path: Path) -> list[Path]:
    """The files of a split GGUF (`name-00001-of-00003.gguf`, gguf-split's naming), in order;
    [path] for a single file."""
    match = SPLIT_NAME.match(path.name)
    if not match or int(match["count"]) <= 1:
        return [path]
    count = int(match["count"])
    width = len(match["no"])
    return [path.with_name(f"{match['stem']}-{i:0{width}d}-of-{match['count']}.gguf") for i in range(1, count + 1)]


def gguf_listing(path: Path, trust_pickle: bool = False) -> Listing:
    """A GGUF file's tensors as a Listing (dtype: torch's name for plain types, GGML's for
    quantized ones; shapes in PyTorch order; sizes in the file), with a metadata note. A split
    file (`-00001-of-00003.gguf`) lists every split."""
    files = split_files(path)
    for f in files:
        if not f.is_file():
            raise LoadError(f"{path}: split GGUF file {f.name} is missing (a split model needs all {len(files)} files)")
    first, tensors = read_gguf(files[0])
    for f in files[1:]:
        _, more = read_gguf(f)
        tensors.extend(more)
    listing = Listing(
        tensors=[
            StoredTensor(name=t.name, dtype=dtype_name(t.ggml_type), shape=t.shape, nbytes=t.nbytes) for t in tensors
        ]
    )
    if len(files) > 1:
        types = Counter(t.ggml_type for t in tensors)
        first = dataclasses.replace(first, tensor_types=dict(types.most_common()))
        listing.notes.append(f"split GGUF: {len(files)} files ({files[0].name} ... {files[-1].name})")
    listing.info = first
    listing.notes.append(first.describe())
    type_text = ", ".join(f"{name} x{count:,}" for name, count in first.tensor_types.items())
    listing.notes.append(f"GGML tensor types: {type_text}" if type_text else "the file holds no tensors")
    return listing
