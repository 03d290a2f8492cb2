"""Checkpoint files as MODEL: list the tensors a file stores without building a model. Which
files are checkpoints, and which function lists each, is in paraminspect.forms.FORMS.

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

import json
import math
import re
import stat
from pathlib import Path
from typing import Any

from paraminspect.errors import LoadError, UsageError
from paraminspect.forms import parse_spec
from paraminspect.loaders.checkpoints.safetensors_header import read_safetensors, refused_note
from paraminspect.loaders.checkpoints.stored import Listing, StoredTensor
from paraminspect.loaders.loaded import LoadedModel, LoadRequest, device_of, file_mode
from paraminspect.tensors.records import STORED, TensorRecord
from paraminspect.tensors.totals import inventory_from_records
from paraminspect.wording import plural


def list_index(path: Path, trust_pickle: bool) -> Listing:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: also a 5,000-digit number
        raise LoadError(f"{path}: corrupt checkpoint index (not JSON: {str(exc)[:200]})") from None
    except RecursionError:
        raise LoadError(f"{path}: corrupt checkpoint index (nested too deep)") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise LoadError(f"{path}: not a sharded checkpoint index (no weight_map of tensor name -> shard file)")
    listing = Listing()
    shards = list(dict.fromkeys(weight_map.values()))
    folder = path.parent.resolve()
    paths = {}
    for shard in shards:  # every shard is checked before any file is opened
        resolved = (folder / shard).resolve()  # symlinks resolved: a link out of the folder is refused
        if resolved == folder or not resolved.is_relative_to(folder):
            raise LoadError(f"{path}: shard {shard!r} lies outside the index's folder: refused")
        paths[shard] = resolved
    for shard in shards:
        shard_path = paths[shard]
        if not shard_path.is_file():
            raise LoadError(f"{path}: shard {shard!r} is missing or not a file (expected at {shard_path})")
        safetensors = parse_spec(shard).form.name == "safetensors"
        if not safetensors and trust_pickle:
            listing.notes.append(f"--trust-pickle: shard {shard_path} may be fully unpickled")
        if safetensors:
            tensors, why = read_safetensors(shard_path)
            if why is not None and listing.refused is None:
                listing.refused = refused_note(shard_path, why)
                listing.notes.append(listing.refused)
        else:
            from paraminspect.loaders.checkpoints.torchfile import list_torch_file  # imports torch

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


# What puts each wrapper attribute in front of every saved name.
WRAPPER_SEGMENTS = {"module": "DataParallel/DDP", "_orig_mod": "torch.compile"}


def wrapper_prefix(names: list[str]) -> str | None:
    """The chain of wrapper attributes every name starts with (`_orig_mod.module.`: a
    compiled DDP model), else None."""
    prefix = ""
    while names:
        head = names[0][len(prefix) :].partition(".")[0]
        if head not in WRAPPER_SEGMENTS or not all(n.startswith(f"{prefix}{head}.") for n in names):
            break
        prefix += f"{head}."
    return prefix or None


def _wrapper_causes(prefix: str) -> str:
    return " around ".join(WRAPPER_SEGMENTS[s] for s in prefix.rstrip(".").split("."))


def load_listed(request: LoadRequest) -> LoadedModel:
    """The loader of every checkpoint form: the file's (or folder's) tensors listed."""
    if request.kwargs:
        raise UsageError(f"{request.spec} is a checkpoint file: it takes no -a arguments")
    return load_checkpoint(request.spec, trust_pickle=request.trust_pickle, device=request.device)


def load_checkpoint(spec: str, *, trust_pickle: bool = False, device: str | None = None) -> LoadedModel:
    """List a checkpoint file's tensors (LoadedModel.inventory), or, for a trusted pickle of
    a whole nn.Module, return that module. The lister is the one of the file's form."""
    import importlib

    form = parse_spec(spec).form
    path, mode = file_mode(spec)
    if not (stat.S_ISDIR(mode) if form.folder else stat.S_ISREG(mode)):
        raise LoadError(f"{spec} is not a {'folder' if form.folder else 'regular file'}")
    module_name, _, function = form.lister.partition(":")
    listing, fmt = getattr(importlib.import_module(module_name), function)(path, trust_pickle), form.listing
    return loaded_from_listing(spec, fmt, listing, device=device, sort=form.sort_names)


def loaded_from_listing(
    spec: str, fmt: str, listing: Listing, *, device: str | None = None, sort: bool = True
) -> LoadedModel:
    """A listing as a LoadedModel: its tensors as `stored` records (in natural name order when
    `sort`: safetensors headers are in no meaningful order; a state_dict, a GGUF file and a DCP
    checkpoint keep their own), or the nn.Module a trusted pickle held."""
    notes = list(listing.notes)
    if device is not None:
        notes.append(f"--device {device} is ignored for checkpoint files: nothing is built")
    resolved = f"{fmt}:{spec}{listing.key or ''}"
    if listing.module is not None:
        from paraminspect.tensors.facts import type_name

        module = listing.module
        notes.append(f"the file holds a whole {type_name(module)} module: showing that module")
        return LoadedModel(spec, resolved, module, device_of(module), "checkpoint", notes)
    tensors = listing.tensors
    if sort:
        tensors = sorted(tensors, key=lambda t: _natural_key(t.name))
    prefix = wrapper_prefix([t.name for t in tensors])
    if prefix:
        notes.append(f"every name starts with {prefix!r}: saved from a wrapped ({_wrapper_causes(prefix)}) model")
    inventory = inventory_from_records(_records(tensors), root_type=f"{fmt} checkpoint")
    notes.append(
        f"{plural(inventory.totals.tensors, 'stored tensor')}, {plural(inventory.totals.stored, 'element')}: "
        "a checkpoint does not record which are parameters and which are buffers (kind 'stored')"
    )
    return LoadedModel(
        spec,
        resolved,
        None,
        "none",
        "checkpoint",
        notes,
        inventory=inventory,
        state_dict_versions=listing.versions,
        checkpoint_info=listing.info,
        refused=listing.refused,
    )
