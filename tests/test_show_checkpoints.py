"""`show` of a GGUF file and of a torch.distributed.checkpoint folder: what the format records
beside the tensors, in the text report (a metadata summary, the chunks of sharded tensors) and
as the `checkpoint` object of `--format json`; `--dtype` on quantized GGUF tensors. Real files:
gguf's own writer, torch's dcp.save."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import pytest

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
from gguf.quants import quantize  # noqa: E402

Q8_0 = gguf.GGMLQuantizationType.Q8_0


def _gguf(path: Path, name: str = "tiny llama") -> Path:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_block_count(2)
    writer.add_context_length(2048)
    writer.add_embedding_length(64)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"t{i}" for i in range(96)])
    writer.add_tensor("token_embd.weight", np.zeros((96, 64), np.float16))
    for block in range(2):
        weights = quantize(np.ones((64, 64), np.float32), Q8_0)
        writer.add_tensor(f"blk.{block}.attn_q.weight", weights, raw_dtype=Q8_0)
        writer.add_tensor(f"blk.{block}.attn_norm.weight", np.ones(64, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_metadata_is_in_the_text_report(cli, tmp_path):
    path = _gguf(tmp_path / "m.gguf")
    result = cli("show", str(path))
    assert result.code == 0, result.err
    block = result.out.split("By device:", 1)[1].splitlines()[2:]
    assert block == [
        "GGUF v3 (little-endian), llama 'tiny llama'",
        "  2 blocks · context 2,048 · embedding 64 · vocab 96 · heads 4 (kv 2)",
        "  file type Q8_0 · tokenizer llama",
        "  GGML types: Q8_0 x2, F32 x2, F16 x1",  # most first, ties in the file's order
        f"  {len(_metadata_keys(path))} metadata keys (--format json lists every one)",
    ]


def _metadata_keys(path: Path) -> list[str]:
    """Every key/value of the file, as gguf's own reader sees it (less its GGUF.* header fields)."""
    return [k for k in gguf.GGUFReader(str(path)).fields if not k.startswith("GGUF.")]


def test_gguf_checkpoint_object_in_json(cli, tmp_path):
    path = _gguf(tmp_path / "m.gguf")
    doc = json.loads(cli("show", str(path), "--format", "json").out)
    checkpoint = doc["checkpoint"]
    assert checkpoint["format"] == "gguf" and checkpoint["version"] == 3
    assert sorted(checkpoint["metadata"]) == sorted(_metadata_keys(path))
    assert checkpoint["metadata"]["tokenizer.ggml.tokens"] == {"omitted": "array of string", "length": 96}
    assert checkpoint["summary"]["block_count"] == 2 and checkpoint["summary"]["file_type"] == "Q8_0"
    assert checkpoint["tensor_types"] == {"Q8_0": 2, "F32": 2, "F16": 1}
    assert checkpoint["data_offset"] % checkpoint["alignment"] == 0
    # a model has no checkpoint object
    assert "checkpoint" not in json.loads(cli("show", "sample_models/mlp.py:build", "--format", "json").out)


def test_gguf_strings_are_made_printable(cli, tmp_path):
    path = _gguf(tmp_path / "evil.gguf", name="tiny\x1b[31mred")
    out = cli("show", str(path)).out
    assert "\x1b" not in out and "tiny\\x1b[31mred" in out


def test_dtype_counts_quantized_gguf_tensors_as_dequantized_weights(cli, tmp_path):
    path = _gguf(tmp_path / "m.gguf")
    doc = json.loads(cli("show", str(path), "--dtype", "bfloat16", "--format", "json").out)
    tensors = {t["name"]: t for t in doc["tensors"]}
    q = tensors["blk.0.attn_q.weight"]
    assert (q["dtype"], q["bytes"]) == ("bfloat16", 64 * 64 * 2)
    assert doc["totals"]["memory"]["bfloat16"]["weights_bytes"] == sum(t["numel"] * 2 for t in doc["tensors"])
    assert any(
        "quantized GGUF tensors (Q8_0) count as the floating weights they dequantize to" in n for n in doc["notes"]
    )
    stored = json.loads(cli("show", str(path), "--format", "json").out)
    stored_q = {t["name"]: t for t in stored["tensors"]}["blk.0.attn_q.weight"]
    assert (stored_q["dtype"], stored_q["bytes"]) == ("Q8_0", 64 * 64 // 32 * 34)  # without --dtype: as stored


def _dcp(folder: Path, chunked: dict[str, int]) -> Path:
    """A real dcp.save checkpoint, its metadata then rewritten as a sharded save records it:
    `chunked` names tensors split into that many row chunks."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.metadata import ChunkStorageMetadata

    state = {f"layers.{i}.w": torch.zeros(4, 4) for i in range(3)}
    state |= {"head.weight": torch.zeros(6, 4), "norm.weight": torch.ones(4)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({"model": state, "step": 3}, checkpoint_id=folder)
    md = dcp.FileSystemReader(str(folder)).read_metadata()
    for name, parts in chunked.items():
        entry = md.state_dict_metadata[f"model.{name}"]
        rows, cols = entry.size
        step = rows // parts
        entry.chunks = [
            ChunkStorageMetadata(
                torch.Size([i * step, 0]), torch.Size([step if i < parts - 1 else rows - i * step, cols])
            )
            for i in range(parts)
        ]
    (folder / ".metadata").write_bytes(pickle.dumps(md))
    return folder


def test_dcp_chunks_in_text_and_json(cli, tmp_path):
    folder = _dcp(tmp_path / "ckpt", {"layers.0.w": 2, "layers.1.w": 2, "layers.2.w": 2, "head.weight": 3})
    text = cli("show", str(folder))
    assert text.code == 0, text.err
    block = text.out.split("By device:", 1)[1].splitlines()[2:]
    assert block[0].startswith("torch.distributed.checkpoint 1.0.0: 5 tensors in 1 file, ")
    assert block[1:] == [
        "  the state_dict under 'model'",
        "  chunks (4 sharded tensors; the others in 1 chunk each):",
        "    layers.{0..2}.w  x3  2 chunks along dim 0 (2 each)",
        "    head.weight  3 chunks along dim 0 (2 each)",
    ]
    doc = json.loads(cli("show", str(folder), "--format", "json").out)
    chunks = doc["checkpoint"]["chunks"]
    assert chunks["layers.1.w"] == [{"offsets": [0, 0], "sizes": [2, 4]}, {"offsets": [2, 0], "sizes": [2, 4]}]
    assert chunks["norm.weight"] == [{"offsets": [0], "sizes": [4]}]
    assert doc["checkpoint"]["format"] == "dcp" and doc["checkpoint"]["selected"] == "model"
    assert doc["checkpoint"]["files"] == {"__0_0.distcp": doc["checkpoint"]["stored_bytes"]}


def test_an_unsharded_dcp_says_one_chunk_each(cli, tmp_path):
    folder = _dcp(tmp_path / "ckpt", {})
    assert "  every tensor in 1 chunk" in cli("show", str(folder)).out.splitlines()
