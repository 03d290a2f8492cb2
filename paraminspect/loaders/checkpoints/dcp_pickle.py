"""The restricted unpickler of torch.distributed.checkpoint's `.metadata` (a pickle of torch's
`Metadata` dataclass): the few globals such a file holds (the checkpoint metadata classes,
torch.Size, dtypes, layouts, paths) map to the plain stand-ins below; every other global, a
persistent reference, and any attempt to change a stand-in is refused. Nothing here imports
torch or runs code from the file.

Module paths of the classes (torch 2.1 to 2.14): `torch.distributed.checkpoint.metadata`
(Metadata, TensorStorageMetadata, BytesStorageMetadata, ChunkStorageMetadata, MetadataIndex,
StorageMeta, and from torch 2.4 TensorProperties and _MEM_FORMAT_ENCODING), before that
`torch.distributed._shard.sharded_tensor.metadata` (TensorProperties, MEM_FORMAT_ENCODING),
and `torch.distributed.checkpoint.filesystem` (_StorageInfo).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from paraminspect.errors import LoadError

# A .metadata pickle is read into memory whole (that bounds what a hostile length can ask for);
# a 405B model sharded over 512 ranks writes a few hundred MB.
MAX_METADATA_BYTES = 2 * 1024**3

# torch dtype names (and their aliases) -> (canonical name, bytes per element)
DTYPES: dict[str, tuple[str, float]] = {
    "float32": ("float32", 4),
    "float": ("float32", 4),
    "float64": ("float64", 8),
    "double": ("float64", 8),
    "float16": ("float16", 2),
    "half": ("float16", 2),
    "bfloat16": ("bfloat16", 2),
    "int8": ("int8", 1),
    "int16": ("int16", 2),
    "short": ("int16", 2),
    "int32": ("int32", 4),
    "int": ("int32", 4),
    "int64": ("int64", 8),
    "long": ("int64", 8),
    "uint8": ("uint8", 1),
    "uint16": ("uint16", 2),
    "uint32": ("uint32", 4),
    "uint64": ("uint64", 8),
    "bool": ("bool", 1),
    "complex32": ("complex32", 4),
    "chalf": ("complex32", 4),
    "complex64": ("complex64", 8),
    "cfloat": ("complex64", 8),
    "complex128": ("complex128", 16),
    "cdouble": ("complex128", 16),
    "float8_e4m3fn": ("float8_e4m3fn", 1),
    "float8_e4m3fnuz": ("float8_e4m3fnuz", 1),
    "float8_e5m2": ("float8_e5m2", 1),
    "float8_e5m2fnuz": ("float8_e5m2fnuz", 1),
    "float8_e8m0fnu": ("float8_e8m0fnu", 1),
    "float4_e2m1fn_x2": ("float4_e2m1fn_x2", 1),
    "qint8": ("qint8", 1),
    "quint8": ("quint8", 1),
    "qint32": ("qint32", 4),
    "quint4x2": ("quint4x2", 1),
    "quint2x4": ("quint2x4", 1),
}
LAYOUTS = ("strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "_mkldnn", "jagged")


class _Refused(Exception):
    pass


# --- local stand-ins for what a .metadata pickle may hold ------------------------------------


class _Locked(type):
    """The stand-in classes cannot be changed (pickle's BUILD on a class calls its unbound
    __setstate__, which fails; this is the second wall): a patched class would change every
    later load in this process."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise _Refused("it changes a class")

    def __delattr__(cls, name: str) -> None:
        raise _Refused("it changes a class")


class Record(metaclass=_Locked):
    """A stand-in for one allowed dataclass: constructor arguments are ignored, pickled state
    (a dict, a (dict, slots) pair, or for TensorProperties a tuple) is kept in `_fields` and read
    with `get`. Slotted, with a __setstate__ of its own: no state key can shadow a method."""

    __slots__ = ("_fields",)
    POSITIONAL: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, dict) for s in state):
            merged = {**(state[0] or {}), **(state[1] or {})}
        elif isinstance(state, tuple) and self.POSITIONAL and len(state) == len(self.POSITIONAL):
            merged = dict(zip(self.POSITIONAL, state, strict=True))
        elif isinstance(state, dict):
            merged = dict(state)
        else:
            raise _Refused(f"unexpected state for {type(self).__name__}")
        if not all(isinstance(k, str) for k in merged):
            raise _Refused(f"unexpected state for {type(self).__name__}")
        object.__setattr__(self, "_fields", merged)

    def get(self, name: str) -> Any:
        fields = getattr(self, "_fields", None)
        return fields.get(name) if isinstance(fields, dict) else None


class Metadata(Record):
    __slots__ = ()


class TensorStorageMetadata(Record):
    __slots__ = ()


class BytesStorageMetadata(Record):
    __slots__ = ()


class ChunkStorageMetadata(Record):
    __slots__ = ()


class TensorProperties(Record):
    __slots__ = ()
    POSITIONAL = ("dtype", "layout", "requires_grad", "memory_format", "pin_memory")


class MetadataIndex(Record):
    __slots__ = ()


class StorageMeta(Record):
    __slots__ = ()


class StorageInfo(Record):
    __slots__ = ()


class TorchName:
    """torch.float32, torch.strided: a name, nothing else; pickle's BUILD cannot change it."""

    __slots__ = ("kind", "name")

    def __init__(self, kind: str, name: str) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "name", name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise _Refused("it changes a torch dtype or layout")

    def __setstate__(self, state: Any) -> None:
        raise _Refused("it changes a torch dtype or layout")


class _Callable:
    """The allowed functions, as instances with neither a __dict__ nor slots: pickle's BUILD
    finds nothing on them to change."""

    __slots__ = ()


class _Size(_Callable):
    __slots__ = ()

    def __call__(self, dims: Any = ()) -> tuple[int, ...]:
        if not isinstance(dims, (tuple, list)) or not all(type(d) is int and d >= 0 for d in dims):
            raise _Refused("a torch.Size of something other than sizes")
        return tuple(dims)


class _Layout(_Callable):
    __slots__ = ()

    def __call__(self, name: Any) -> TorchName:
        text = str(name).removeprefix("torch.")
        if text not in LAYOUTS:
            raise _Refused(f"unknown layout {text[:40]!r}")
        return TorchName("layout", text)


class _EnumValue(_Callable):
    __slots__ = ()

    def __call__(self, value: Any = 0) -> int:
        return value if type(value) is int else 0


class _PathText(_Callable):
    __slots__ = ()

    def __call__(self, *parts: Any) -> str:
        return "/".join(str(p) for p in parts)


class _Reconstructor(_Callable):  # protocol 0/1 pickles
    __slots__ = ()

    def __call__(self, cls: Any, base: Any, state: Any = None) -> Any:
        if not (isinstance(cls, type) and issubclass(cls, Record)):
            raise _Refused("copyreg._reconstructor of a class that is not checkpoint metadata")
        return cls.__new__(cls)


_size, _layout, _enum_value, _path = _Size(), _Layout(), _EnumValue(), _PathText()


_METADATA_CLASSES: dict[str, Any] = {
    "Metadata": Metadata,
    "TensorStorageMetadata": TensorStorageMetadata,
    "BytesStorageMetadata": BytesStorageMetadata,
    "ChunkStorageMetadata": ChunkStorageMetadata,
    "TensorProperties": TensorProperties,
    "MetadataIndex": MetadataIndex,
    "StorageMeta": StorageMeta,
    "_MEM_FORMAT_ENCODING": _enum_value,
}
ALLOWED: dict[str, dict[str, Any]] = {
    "torch.distributed.checkpoint.metadata": _METADATA_CLASSES,
    "torch.distributed._shard.sharded_tensor.metadata": {
        "TensorProperties": TensorProperties,
        "MEM_FORMAT_ENCODING": _enum_value,
    },
    "torch.distributed.checkpoint.filesystem": {"_StorageInfo": StorageInfo},
    "torch.serialization": {"_get_layout": _layout},
    "pathlib": {name: _path for name in ("Path", "PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath")},
    "collections": {"OrderedDict": dict},
    "copyreg": {"_reconstructor": _Reconstructor()},
}


class _MetadataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "torch":
            if name == "Size":
                return _size
            if name in DTYPES:
                return TorchName("dtype", DTYPES[name][0])
            if name in LAYOUTS:  # older torch pickled a layout as the global itself
                return TorchName("layout", name)
        found = ALLOWED.get(module, {}).get(name)
        if found is None:
            raise _Refused(f"it refers to {module[:80]}.{name[:80]}, which is not checkpoint metadata")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("it holds a persistent reference (a torch.save file, not checkpoint metadata)")


def unpickle_metadata(path: Path) -> Any:
    """The stand-ins a `.metadata` file holds. Raises LoadError (one line)."""
    try:
        size = path.stat().st_size
        if size > MAX_METADATA_BYTES:
            raise LoadError(f"{path}: {size:,} bytes, more than a checkpoint's metadata plausibly holds")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not data:
        raise LoadError(f"{path}: empty file, not checkpoint metadata")
    try:
        return _MetadataUnpickler(io.BytesIO(data)).load()
    except _Refused as exc:
        raise LoadError(f"{path}: refused to read ({exc}); nothing in it was run") from None
    except RecursionError:
        raise LoadError(f"{path}: corrupt checkpoint metadata (nested too deep)") from None
    except MemoryError:
        raise LoadError(f"{path}: corrupt checkpoint metadata (it asks for more memory than there is)") from None
    except Exception as exc:  # UnpicklingError, EOFError, and what bad opcodes raise (ValueError, TypeError, ...)
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise LoadError(
            f"{path}: corrupt checkpoint metadata ({type(exc).__name__}{': ' + text if text else ''})"
        ) from None
