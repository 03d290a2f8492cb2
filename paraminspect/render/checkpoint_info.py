"""What a checkpoint's format records beside its tensors, for `show`'s text: a GGUF file's
metadata summary, a DCP checkpoint's files and chunks. Takes the JSON-ready dict of
LoadedModel.checkpoint_info.as_dict() (the same object `--format json` prints as `checkpoint`);
strings from the file are made printable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paraminspect.render.fit import wrap_items
from paraminspect.render.formatting import human_bytes
from paraminspect.render.safe import printable
from paraminspect.tensors.collapse import fold
from paraminspect.tensors.records import TensorRecord
from paraminspect.wording import plural

MAX_CHUNK_ROWS = 12  # tensors (or folded runs of them) listed with their chunks


def _number(value: Any) -> str:
    if isinstance(value, list):  # per-layer values (head counts): the distinct ones
        distinct = list(dict.fromkeys(_number(v) for v in value))
        return "/".join(distinct[:4]) + (" per layer" if len(distinct) > 1 else "")
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else printable(str(value))


def gguf_lines(info: dict[str, Any], width: int | None = None) -> list[str]:
    s = info["summary"]
    head = f"GGUF v{info['version']} ({info['byte_order']}-endian)"
    if s.get("architecture"):
        head += f", {printable(str(s['architecture']))}"
        head += f" {printable(repr(s['name']))}" if s.get("name") else ""
    shape = []
    for key, label in (
        ("block_count", "blocks"),
        ("context_length", "context"),
        ("embedding_length", "embedding"),
        ("feed_forward_length", "feed-forward"),
        ("expert_count", "experts"),
        ("vocab_size", "vocab"),
    ):
        if s.get(key) is not None:
            shape.append(f"{_number(s[key])} {label}" if key == "block_count" else f"{label} {_number(s[key])}")
    if s.get("head_count") is not None:
        kv = f" (kv {_number(s['head_count_kv'])})" if s.get("head_count_kv") is not None else ""
        shape.append(f"heads {_number(s['head_count'])}{kv}")
    kinds = []
    for key, label in (
        ("file_type", "file type"),
        ("quantization_version", "quantization version"),
        ("tokenizer_model", "tokenizer"),
    ):
        if s.get(key) is not None:
            kinds.append(f"{label} {_number(s[key])}")
    if s.get("split"):
        kinds.append(f"split {_number(s['split'][0])} of {_number(s['split'][1])}")
    types = [f"{printable(name)} x{n:,}" for name, n in info["tensor_types"].items()]
    lines = [head]
    for label, items in (("  ", shape), ("  ", kinds), ("  GGML types: ", types)):
        if items:
            lines.extend(wrap_items(label, items, width, " · " if label == "  " else ", "))
    keys = len(info["metadata"])
    lines.append(f"  {plural(keys, 'metadata key')} (--format json lists every one)")
    return lines


def _chunk_text(chunks: list[dict[str, list[int]]], shape: tuple[int, ...]) -> str:
    from paraminspect.loaders.checkpoints.dcp import chunk_summary

    return chunk_summary(tuple((tuple(c["offsets"]), tuple(c["sizes"])) for c in chunks), shape)


def dcp_lines(info: dict[str, Any], records: Sequence[TensorRecord], width: int | None = None) -> list[str]:
    version = f" {printable(info['version'])}" if info.get("version") else ""
    files = info["files"]
    metadata = ", ".join(printable(f) for f in info["metadata_files"])
    lines = [
        f"torch.distributed.checkpoint{version}: {plural(len(info['chunks']), 'tensor')} in "
        f"{plural(len(files), 'file')}, {human_bytes(info['stored_bytes'])} as saved ({metadata})"
    ]
    if info.get("selected"):
        lines.append(f"  the state_dict under {printable(repr(info['selected']))}")
    if info.get("others"):
        others = [f"{printable(k)} ({plural(n, 'entry', 'entries')})" for k, n in info["others"].items()]
        lines.extend(wrap_items("  the checkpoint also holds: ", others, width))
    shapes = {r.name: tuple(r.shape or ()) for r in records}
    sharded = [(n, c) for n, c in info["chunks"].items() if len(c) > 1]
    if not sharded:
        lines.append("  every tensor in 1 chunk" if info["chunks"] else "  no tensors")
    else:
        text = {n: _chunk_text(c, shapes.get(n, ())) for n, c in sharded}
        rows = fold([n for n, _ in sharded], lambda n: n, lambda n: (text[n], shapes.get(n)))
        lines.append(f"  chunks ({plural(len(sharded), 'sharded tensor')}; the others in 1 chunk each):")
        for row in rows[:MAX_CHUNK_ROWS]:
            count = f"  x{row.count:,}" if row.folded else ""
            lines.append(f"    {printable(row.name)}{count}  {text[row.item]}")
        if len(rows) > MAX_CHUNK_ROWS:
            lines.append(f"    ... {len(rows) - MAX_CHUNK_ROWS:,} more (--format json lists every tensor's chunks)")
    if info.get("objects"):
        objects = [printable(name) for name in info["objects"]]
        label = plural(len(objects), "non-tensor entry", "non-tensor entries")
        lines.extend(wrap_items(f"  {label}: ", objects, width))
    return lines


def checkpoint_lines(
    info: dict[str, Any] | None, records: Sequence[TensorRecord], width: int | None = None
) -> list[str]:
    """The block `show` prints under a checkpoint's totals; [] for formats that record nothing more."""
    if not info:
        return []
    if info.get("format") == "gguf":
        return gguf_lines(info, width)
    if info.get("format") == "dcp":
        return dcp_lines(info, records, width)
    return []
