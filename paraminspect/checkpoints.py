"""Checkpoint files as MODEL: list the tensors a file stores without building a model.

- `.safetensors`: the 8-byte header length and the JSON header are parsed here; tensor data
  is never read, so listing costs the same for a 10 MB and a 10 GB file.
- `*.index.json` (a sharded Hugging Face checkpoint): the `weight_map`'s shards, each read
  the same way (safetensors headers, or torch files as below).
- `.pt/.pth/.bin/.ckpt`: `torch.load(weights_only=True)` memory-maps the file, so tensors
  are views of pages that are never touched. A state_dict, or a dict holding one under a
  usual key (`state_dict`, `model`, `module`, ...), is listed. A file that needs full
  unpickling (pickled classes, whole nn.Modules) is refused unless the user passes
  `--trust-pickle`: only then can code from the file run.

Nothing here prints; every problem is a one-line LoadError.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import re
import struct
import sys
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paraminspect.errors import LoadError
from paraminspect.loading import LoadedModel, first_sentence, no_network

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"
INDEX_SUFFIX = ".index.json"
TRUST_FLAG = "--trust-pickle"

# The safetensors format caps its header at 100 MB; anything larger is not a header.
MAX_HEADER_BYTES = 100_000_000

# Keys under which training code commonly stores the model's state_dict, most specific first.
STATE_DICT_KEYS = (
    "state_dict",
    "model_state_dict",
    "model_state",
    "model",
    "module",
    "net",
    "network",
    "weights",
    "params",
    "model_ema",
    "state_dict_ema",
    "ema",
)

# safetensors dtype codes -> torch dtype names, and their element sizes (None: sub-byte).
SAFETENSORS_DTYPES: dict[str, tuple[str, float | None]] = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "I64": ("int64", 8),
    "I32": ("int32", 4),
    "I16": ("int16", 2),
    "I8": ("int8", 1),
    "U64": ("uint64", 8),
    "U32": ("uint32", 4),
    "U16": ("uint16", 2),
    "U8": ("uint8", 1),
    "BOOL": ("bool", 1),
    "C64": ("complex64", 8),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "F8_E8M0": ("float8_e8m0fnu", 1),
    "F4": ("float4_e2m1fn_x2", None),
}


def is_checkpoint_spec(spec: str) -> bool:
    """True when MODEL names a checkpoint file by its suffix (whether or not it exists)."""
    lower = spec.lower()
    return lower.endswith(INDEX_SUFFIX) or lower.endswith((SAFETENSORS_SUFFIX, *TORCH_SUFFIXES))


@dataclass(frozen=True)
class StoredTensor:
    """One tensor entry of a checkpoint, from metadata only."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    device: str = "cpu"
    requires_grad: bool = False
    is_parameter: bool = False
    tensor_type: str = "Tensor"
    layout: str = "strided"
    aliases: tuple[str, ...] = ()


@dataclass
class _Listing:
    tensors: list[StoredTensor] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    module: Any = None  # an nn.Module the file held (only with --trust-pickle)
    key: str | None = None  # where the state_dict was found in a torch file


# --- safetensors -------------------------------------------------------------------------


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
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoadError(f"{path}: corrupt safetensors header (not JSON: {exc})") from None
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
    if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
        raise LoadError(f"{bad} has a bad shape {shape!r})")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise LoadError(f"{bad} has bad data_offsets {offsets!r})")
    begin, end = offsets
    if not 0 <= begin <= end:
        raise LoadError(f"{bad} has bad data_offsets {offsets!r})")
    if end > data_size:
        raise LoadError(
            f"{path}: truncated safetensors file (tensor {name!r} ends at data byte {end:,}, "
            f"the file holds {data_size:,})"
        )
    dtype, itemsize = SAFETENSORS_DTYPES.get(code, (code.lower(), None))
    numel = math.prod(shape)
    if itemsize is not None and numel * itemsize != end - begin:
        raise LoadError(f"{bad}: {code}{shape} needs {int(numel * itemsize):,} bytes, offsets give {end - begin:,})")
    return StoredTensor(name=name, dtype=dtype, shape=tuple(shape), nbytes=end - begin)


def list_safetensors(path: Path) -> list[StoredTensor]:
    header, data_size = read_safetensors_header(path)
    return [_safetensors_entry(path, name, info, data_size) for name, info in header.items() if name != "__metadata__"]


# --- torch files -------------------------------------------------------------------------


def _is_torchscript_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("/constants.pkl") or "/code/" in n for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _exc_text(exc: BaseException) -> str:
    text = first_sentence(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _refused_global(exc: BaseException) -> str | None:
    match = re.search(r"GLOBAL ([\w.]+)", str(exc))
    return match.group(1) if match else None


def _torch_load(path: Path, weights_only: bool, locations: dict[int, str]) -> Any:
    """torch.load that reads no tensor data: zip files are memory-mapped (pages untouched);
    each storage's saved device is recorded by data pointer."""
    import torch

    def remember(storage: Any, location: str) -> Any:
        try:
            locations[storage.data_ptr()] = location
        except Exception:
            pass
        return storage

    mmap = zipfile.is_zipfile(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path, weights_only=weights_only, mmap=mmap, map_location=remember)


def _load_torch_object(path: Path, trust_pickle: bool, notes: list[str], locations: dict[int, str]) -> Any:
    _check_torch_format(path)
    if _is_torchscript_archive(path):
        if not trust_pickle:
            raise LoadError(
                f"{path} is a TorchScript archive: loading it runs its serialized code; "
                f"pass {TRUST_FLAG} if you trust the file"
            )
        import torch

        notes.append(f"{path.name} is a TorchScript archive, loaded with torch.jit.load ({TRUST_FLAG})")
        try:
            with warnings.catch_warnings(), no_network():
                warnings.simplefilter("ignore")
                return torch.jit.load(str(path), map_location="cpu")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            raise LoadError(f"cannot load TorchScript archive {path}: {_exc_text(exc)}") from exc
    try:
        return _torch_load(path, True, locations)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            raise LoadError(f"{path}: corrupt checkpoint (UnpicklingError: {first_sentence(str(exc))})") from exc
        refused = _refused_global(exc)
        if not trust_pickle:
            what = f" (it refers to {refused})" if refused else ""
            raise LoadError(
                f"{path} needs full unpickling{what}, which can run code from the file; "
                f"pass {TRUST_FLAG} only if you trust it"
            ) from exc
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        raise LoadError(_corrupt_message(path, exc)) from exc
    notes.append(f"{path.name} needed full unpickling ({TRUST_FLAG})")
    # Pickled classes are found the way `python -m` would find them: the working directory
    # and the file's own folder are importable.
    for folder in (os.getcwd(), str(path.parent)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        with no_network():
            return _torch_load(path, False, locations)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        hint = (
            "; the classes it pickled must be importable from here"
            if isinstance(exc, (AttributeError, ImportError))
            else ""
        )
        raise LoadError(f"unpickling {path} raised {_exc_text(exc)}{hint}") from exc


def _corrupt_message(path: Path, exc: BaseException) -> str:
    text = first_sentence(str(exc))
    if isinstance(exc, EOFError) or "central directory" in text or "failed reading zip" in text:
        return f"{path}: truncated or corrupt checkpoint ({type(exc).__name__}: {text or 'unexpected end of file'})"
    return f"{path}: not a PyTorch checkpoint, or a corrupt one ({_exc_text(exc)})"


def _check_torch_format(path: Path) -> None:
    """A torch file is a zip archive or (legacy format) a pickle, which starts with PROTO."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise LoadError(f"{path}: empty file, not a PyTorch checkpoint")
    is_zip = zipfile.is_zipfile(path)
    if head == b"PK\x03\x04" and not is_zip:
        raise LoadError(f"{path}: truncated or corrupt checkpoint (a zip archive whose end is missing)")
    if head[:1] != b"\x80" and not is_zip:
        raise LoadError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle)")


def _tensor_items(obj: Any, prefix: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """(dotted name, tensor) for every tensor in nested dicts/lists, a few levels deep."""
    import torch

    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif depth >= 6:
        return
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _tensor_items(value, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _tensor_items(value, f"{prefix}.{i}" if prefix else str(i), depth + 1)


def _is_state_dict(obj: Any) -> bool:
    import torch

    if not isinstance(obj, Mapping) or not obj:
        return False
    tensors = sum(isinstance(v, torch.Tensor) for v in obj.values())
    return tensors > 0 and tensors * 2 >= len(obj)


def _find_payload(obj: Any, depth: int = 0) -> tuple[Any, list[str]]:
    """The state_dict (or nn.Module) in a loaded object, and the keys leading to it."""
    from torch import nn

    if isinstance(obj, nn.Module) or _is_state_dict(obj) or depth >= 3 or not isinstance(obj, Mapping):
        return obj, []
    for key in STATE_DICT_KEYS:
        value = obj.get(key)
        if isinstance(value, nn.Module) or _is_state_dict(value) or isinstance(value, Mapping):
            inner, path = _find_payload(value, depth + 1)
            if isinstance(inner, nn.Module) or _is_state_dict(inner):
                return inner, [key, *path]
    return obj, []


def _stored_from_tensors(items: list[tuple[str, Any]], locations: dict[int, str]) -> list[StoredTensor]:
    from paraminspect.inventory import tensor_facts

    by_id: dict[int, int] = {}
    out: list[StoredTensor] = []
    aliases: dict[int, list[str]] = {}
    for name, t in items:
        if id(t) in by_id:  # one tensor saved under two names (tied weights)
            aliases[by_id[id(t)]].append(name)
            continue
        facts = tensor_facts(t)
        try:
            device = locations.get(t.untyped_storage().data_ptr(), facts["device"])
        except Exception:
            device = facts["device"]
        by_id[id(t)] = len(out)
        aliases[len(out)] = []
        out.append(
            StoredTensor(
                name=name,
                dtype=facts["dtype"],
                shape=facts["shape"] or (),
                nbytes=facts["nbytes"] or 0,
                device=device,
                requires_grad=facts["requires_grad"],
                is_parameter=facts["is_parameter"],
                tensor_type=facts["tensor_type"],
                layout=facts["layout"],
            )
        )
    return [dataclasses.replace(s, aliases=tuple(aliases[i])) for i, s in enumerate(out)]


def list_torch_file(path: Path, trust_pickle: bool) -> _Listing:
    from torch import nn

    listing = _Listing()
    locations: dict[int, str] = {}
    obj = _load_torch_object(path, trust_pickle, listing.notes, locations)
    payload, keys = _find_payload(obj)
    key_text = "".join(f"[{k!r}]" for k in keys)
    if isinstance(payload, nn.Module):
        listing.module, listing.key = payload, key_text or None
        return listing
    if keys:
        listing.key = key_text
        others = [str(k) for k in obj if k != keys[0]] if isinstance(obj, Mapping) else []
        also = f" (the file also holds: {', '.join(others[:8])}{', ...' if len(others) > 8 else ''})" if others else ""
        listing.notes.append(f"listing the state_dict at checkpoint{key_text}{also}")
    elif not _is_state_dict(payload):
        listing.notes.append("no state_dict found in the file: listing every tensor it holds")
    items = list(_tensor_items(payload, ""))
    if not items:
        raise LoadError(f"{path} holds no tensors (a {type(obj).__name__}); expected a state_dict")
    listing.tensors = _stored_from_tensors(items, locations)
    return listing


# --- sharded checkpoints -----------------------------------------------------------------


def list_index(path: Path, trust_pickle: bool) -> _Listing:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoadError(f"{path}: corrupt checkpoint index (not JSON: {exc})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise LoadError(f"{path}: not a sharded checkpoint index (no weight_map of tensor name -> shard file)")
    listing = _Listing()
    shards = list(dict.fromkeys(weight_map.values()))
    for shard in shards:
        shard_path = path.parent / shard
        if not shard_path.is_file():
            raise LoadError(f"{path}: shard {shard!r} is missing (expected at {shard_path})")
        if shard.endswith(SAFETENSORS_SUFFIX):
            tensors = list_safetensors(shard_path)
        else:
            sub = list_torch_file(shard_path, trust_pickle)
            if sub.module is not None:
                raise LoadError(f"{path}: shard {shard!r} holds an nn.Module, not a state_dict")
            tensors = sub.tensors
        held = {t.name for t in tensors}
        absent = [name for name, where in weight_map.items() if where == shard and name not in held]
        if absent:
            raise LoadError(f"{path}: shard {shard!r} does not hold {absent[0]!r}, which the index maps to it")
        listing.tensors.extend(tensors)
    listing.notes.append(f"sharded checkpoint: {len(shards)} shard{'s' if len(shards) != 1 else ''}")
    return listing


# --- entry point -------------------------------------------------------------------------


def _natural_key(name: str) -> list[Any]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def _records(tensors: list[StoredTensor]) -> list[Any]:
    from paraminspect.inventory import STORED, TensorRecord

    records = []
    for t in tensors:
        module, _, attribute = t.name.rpartition(".")
        records.append(
            TensorRecord(
                name=t.name,
                kind=STORED,
                persistent=None,
                requires_grad=t.requires_grad,
                shape=t.shape,
                dtype=t.dtype,
                device=t.device,
                numel=math.prod(t.shape),
                nbytes=t.nbytes,
                module=module,
                module_type="",
                attribute=attribute,
                aliases=t.aliases,
                is_parameter=t.is_parameter,
                tensor_type=t.tensor_type,
                layout=t.layout,
            )
        )
    return records


def _wrapper_prefix(names: list[str]) -> str | None:
    for prefix in ("module.", "_orig_mod."):
        if names and all(n.startswith(prefix) for n in names):
            return prefix
    return None


def load_checkpoint(spec: str, *, trust_pickle: bool = False, device: str | None = None) -> LoadedModel:
    """List a checkpoint file's tensors (LoadedModel.inventory), or, for a trusted pickle of
    a whole nn.Module, return that module."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise LoadError(f"no such file: {spec}")
    if not path.is_file():
        raise LoadError(f"{spec} is not a file")
    lower = path.name.lower()
    if lower.endswith(INDEX_SUFFIX):
        listing, fmt = list_index(path, trust_pickle), "sharded"
    elif lower.endswith(SAFETENSORS_SUFFIX):
        listing, fmt = _Listing(tensors=list_safetensors(path)), "safetensors"
    else:
        listing, fmt = list_torch_file(path, trust_pickle), "torch"
    notes = list(listing.notes)
    if device is not None:
        notes.append(f"--device {device} is ignored for checkpoint files: nothing is built")
    resolved = f"{fmt}:{spec}{listing.key or ''}"
    if listing.module is not None:
        from paraminspect.loading import _device_of

        module = listing.module
        from paraminspect.inventory import type_name

        notes.append(f"the file holds a whole {type_name(module)} module: showing that module")
        return LoadedModel(spec, resolved, module, _device_of(module), "checkpoint", notes)
    from paraminspect.inventory import inventory_from_records

    tensors = listing.tensors
    if fmt != "torch":  # safetensors headers are in no meaningful order; a state_dict is in module order
        tensors = sorted(tensors, key=lambda t: _natural_key(t.name))
    prefix = _wrapper_prefix([t.name for t in tensors])
    if prefix:
        notes.append(f"every name starts with {prefix!r}: saved from a wrapped (DataParallel/DDP/compiled) model")
    inventory = inventory_from_records(_records(tensors), root_type=f"{fmt} checkpoint")
    notes.append(
        f"{inventory.totals.tensors:,} stored tensors, {inventory.totals.stored:,} elements: "
        "a checkpoint does not record which are parameters and which are buffers (kind 'stored')"
    )
    return LoadedModel(spec, resolved, None, "none", "checkpoint", notes, inventory=inventory)
