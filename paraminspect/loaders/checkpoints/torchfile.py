"""`.pt/.pth/.bin/.ckpt`: `torch.load(weights_only=True)` memory-maps the file, so tensors are
views of pages that are never touched; full unpickling only with `--trust-pickle`."""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import sys
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paraminspect.errors import LoadError, exception_line, first_sentence
from paraminspect.loaders.checkpoints.stored import STATE_DICT_KEYS, TRUST_FLAG, Listing, StoredTensor
from paraminspect.loaders.guard import no_network
from paraminspect.tensors.facts import tensor_facts
from paraminspect.wording import plural


def _is_torchscript_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("/constants.pkl") or "/code/" in n for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


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
            raise LoadError(f"cannot load TorchScript archive {path}: {exception_line(exc)}") from exc
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
        raise LoadError(f"unpickling {path} raised {exception_line(exc)}{hint}") from exc


def _corrupt_message(path: Path, exc: BaseException) -> str:
    text = first_sentence(str(exc))
    if isinstance(exc, EOFError) or "central directory" in text or "failed reading zip" in text:
        return f"{path}: truncated or corrupt checkpoint ({type(exc).__name__}: {text or 'unexpected end of file'})"
    return f"{path}: not a PyTorch checkpoint, or a corrupt one ({exception_line(exc)})"


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


# How deep and how much of a loaded object is walked for tensors. Nesting costs nothing by itself
# (the walk is iterative and enters each container once), but every level lengthens the names
# under it: 100,000 levels would make names of 100,000 parts. Real checkpoints nest a few levels
# (an optimizer state, a Lightning checkpoint: 4-8); a file nested deeper is listed to this depth.
MAX_WALK_DEPTH = 64
MAX_WALK_ITEMS = 5_000_000


def _tensor_items(obj: Any, prefix: str = "", notes: list[str] | None = None) -> list[tuple[str, Any]]:
    """(dotted name, tensor) for every tensor in nested dicts/lists, up to MAX_WALK_DEPTH
    levels and MAX_WALK_ITEMS entries (what was left out is said in `notes`). Each container is
    entered once: a list that holds itself 1,000 times is 1,000 items, not 1,000**6 paths."""
    import torch

    out: list[tuple[str, Any]] = []
    entered: set[int] = set()
    stack: list[tuple[Any, str, int]] = [(obj, prefix, 0)]
    deeper = visited = 0
    while stack:
        value, name, depth = stack.pop()
        if isinstance(value, torch.Tensor):
            out.append((name, value))
            continue
        if id(value) in entered or not isinstance(value, (Mapping, list, tuple)):
            continue
        if depth >= MAX_WALK_DEPTH:
            deeper += 1
            continue
        if isinstance(value, Mapping):
            children = [(f"{name}.{key}" if name else str(key), item) for key, item in value.items()]
        else:
            children = [(f"{name}.{i}" if name else str(i), item) for i, item in enumerate(value)]
        visited += len(children)
        if visited > MAX_WALK_ITEMS:
            if notes is not None:
                notes.append(f"the file holds more than {MAX_WALK_ITEMS:,} entries: only the first ones are listed")
            break
        entered.add(id(value))
        stack.extend((item, child, depth + 1) for child, item in reversed(children))
    if deeper and notes is not None:
        notes.append(f"{plural(deeper, 'container')} nested deeper than {MAX_WALK_DEPTH} levels: not listed")
    return out


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


def list_torch_file(path: Path, trust_pickle: bool) -> Listing:
    from torch import nn

    listing = Listing()
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
    items = _tensor_items(payload, notes=listing.notes)
    if len(items) == 1 and not items[0][0]:  # torch.save(tensor): a bare tensor has no name of its own
        items = [(path.stem or "tensor", items[0][1])]
        listing.notes.append(f"the file holds one bare tensor, not a state_dict: listed as {items[0][0]!r}")
    elif not keys and not _is_state_dict(payload):
        listing.notes.append("no state_dict found in the file: listing every tensor it holds")
    if not items:
        deep = next((n for n in listing.notes if "nested deeper than" in n), None)
        why = f"; {deep}" if deep else ""
        raise LoadError(f"{path} holds no tensors (a {type(obj).__name__}){why}; expected a state_dict")
    listing.tensors = _stored_from_tensors(items, locations)
    metadata = getattr(payload, "_metadata", None)
    if isinstance(metadata, Mapping):
        listing.versions = {
            str(p): info["version"] for p, info in metadata.items() if isinstance(info, Mapping) and "version" in info
        }
    return listing
