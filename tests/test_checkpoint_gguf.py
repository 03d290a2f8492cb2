"""GGUF files (llama.cpp): real files written with the gguf package's GGUFWriter, listed from
their headers (paraminspect/loaders/checkpoints/gguf.py), and diffed against the transformers
models they were converted from (paraminspect/diffs/gguf_names.py)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")

from gguf.quants import quantize  # noqa: E402

from paraminspect.errors import LoadError  # noqa: E402
from paraminspect.loaders.checkpoints.gguf import Omitted, gguf_listing, read_gguf  # noqa: E402
from paraminspect.loaders.dispatch import load  # noqa: E402

Q8_0 = gguf.GGMLQuantizationType.Q8_0
Q4_K = gguf.GGMLQuantizationType.Q4_K
LLAMA = dict(hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2, vocab_size=96)


def _write(path: Path, tensors: dict, arch: str = "llama", metadata=None, **writer_kwargs) -> Path:
    """A GGUF file written by gguf's own writer: `tensors` maps names to numpy arrays, or to
    (uint8 array of packed blocks, GGML type) for quantized ones."""
    writer = gguf.GGUFWriter(str(path), arch, **writer_kwargs)
    for add in metadata or ():
        add(writer)
    for name, value in tensors.items():
        if isinstance(value, tuple):
            writer.add_tensor(name, value[0], raw_dtype=value[1])
        else:
            writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _llama_metadata(blocks: int, tokens: int = 96):
    return [
        lambda w: w.add_name("tiny llama"),
        lambda w: w.add_block_count(blocks),
        lambda w: w.add_context_length(2048),
        lambda w: w.add_embedding_length(LLAMA["hidden_size"]),
        lambda w: w.add_feed_forward_length(LLAMA["intermediate_size"]),
        lambda w: w.add_head_count(LLAMA["num_attention_heads"]),
        lambda w: w.add_head_count_kv(LLAMA["num_key_value_heads"]),
        lambda w: w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0),
        lambda w: w.add_tokenizer_model("llama"),
        lambda w: w.add_token_list([f"tok{i}" for i in range(tokens)]),
    ]


def _llama_model(blocks: int = 2, tie: bool = False, device: str = "meta"):
    transformers = pytest.importorskip("transformers")
    import torch

    config = transformers.LlamaConfig(num_hidden_layers=blocks, tie_word_embeddings=tie, **LLAMA)
    with torch.device(device):
        return transformers.LlamaForCausalLM(config)


def _permute(w, heads: int):
    """llama.cpp's converter: each head's rows, as (2, half) pairs, interleaved for its rotary layout."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _unpermute(w, heads: int):
    return w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _convert(model, path: Path, blocks: int, drop_output: bool = True, extra=None) -> dict[str, str]:
    """What llama.cpp's converter does to a Hugging Face llama: gguf names (its tensor name map),
    2-D weights quantized to Q8_0, q/k rows permuted, the output dropped when it is the
    embedding, llama 3's rope_freqs added. Returns {gguf name: hf name}."""
    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == "llama")
    names = gguf.get_tensor_name_map(arch, blocks)
    tensors, converted = {}, {}
    rng = np.random.default_rng(0)
    for hf, t in model.state_dict().items():
        if drop_output and hf == "lm_head.weight":
            continue
        name = names.get_name(hf, try_suffixes=(".weight", ".bias"))
        values = (
            t.detach().float().numpy() if t.device.type != "meta" else rng.standard_normal(tuple(t.shape))
        ).astype(np.float32)
        if name.endswith((".attn_q.weight", ".attn_k.weight")):
            heads = LLAMA["num_attention_heads" if ".attn_q." in name else "num_key_value_heads"]
            values = _permute(values, heads)
        tensors[name] = (quantize(values, Q8_0), Q8_0) if values.ndim == 2 else values
        converted[name] = hf
    tensors.update(extra or {})
    _write(path, tensors, metadata=_llama_metadata(blocks))
    return converted


# --- listing -----------------------------------------------------------------------------------


def test_names_types_shapes_and_bytes_match_ggufs_own_reader(tmp_path):
    down = np.arange(96 * 64, dtype=np.float32).reshape(64, 96)  # (out, in) as nn.Linear holds it
    path = _write(
        tmp_path / "m.gguf",
        {
            "token_embd.weight": np.zeros((96, 64), np.float16),
            "blk.0.ffn_down.weight": (quantize(down, Q8_0), Q8_0),
            "blk.0.ffn_up.weight": (np.zeros((96, 144), np.uint8), Q4_K),  # a 144-byte block of 256 a row
            "blk.0.attn_norm.weight": np.ones(64, np.float32),
            "blk.0.counts": np.arange(5, dtype=np.int32),
        },
    )
    info, tensors = read_gguf(path)
    by_name = {t.name: t for t in tensors}
    assert [t.name for t in tensors] == [
        "token_embd.weight",
        "blk.0.ffn_down.weight",
        "blk.0.ffn_up.weight",
        "blk.0.attn_norm.weight",
        "blk.0.counts",
    ]
    # PyTorch order: the (64, 96) array written is (64, 96) here, though GGUF stores ne = [96, 64]
    assert by_name["blk.0.ffn_down.weight"].shape == (64, 96)
    assert by_name["blk.0.ffn_down.weight"].ggml_type == "Q8_0"
    assert by_name["blk.0.ffn_down.weight"].nbytes == 64 * 96 // 32 * 34  # 34-byte blocks of 32
    assert by_name["blk.0.ffn_up.weight"].ggml_type == "Q4_K"
    assert by_name["blk.0.ffn_up.weight"].shape == (96, 256) and by_name["blk.0.ffn_up.weight"].nbytes == 96 * 144
    assert info.tensor_types == {"F16": 1, "Q8_0": 1, "Q4_K": 1, "F32": 1, "I32": 1}
    reader = gguf.GGUFReader(str(path))  # gguf's own reader, for a second opinion
    for t in reader.tensors:
        ours = by_name[t.name]
        assert ours.ggml_type == t.tensor_type.name
        assert ours.shape == tuple(reversed(t.shape.tolist()))
        assert ours.nbytes == t.n_bytes
        assert info.data_offset + ours.offset == t.data_offset
    listing = gguf_listing(path)
    dtypes = {s.name: s.dtype for s in listing.tensors}
    assert dtypes == {
        "token_embd.weight": "float16",
        "blk.0.ffn_down.weight": "Q8_0",
        "blk.0.ffn_up.weight": "Q4_K",
        "blk.0.attn_norm.weight": "float32",
        "blk.0.counts": "int32",
    }


def test_metadata_summary_and_long_arrays_summarised(tmp_path):
    tokens = 50_000
    path = _write(
        tmp_path / "m.gguf",
        {"token_embd.weight": np.zeros((32, 64), np.float32)},
        metadata=[*_llama_metadata(blocks=22, tokens=tokens), lambda w: w.add_token_merges(["a b"] * 3)],
    )
    info, _ = read_gguf(path)
    assert info.version == 3 and info.byte_order == "little" and info.alignment == 32
    assert info.summary() == {
        "architecture": "llama",
        "name": "tiny llama",
        "context_length": 2048,
        "block_count": 22,
        "embedding_length": 64,
        "feed_forward_length": 96,
        "head_count": 4,
        "head_count_kv": 2,
        "expert_count": None,
        "vocab_size": tokens,  # from the token list's length: the file records no vocab_size
        "file_type": "Q8_0",
        "quantization_version": None,
        "tokenizer_model": "llama",
        "split": None,
    }
    assert info.metadata["tokenizer.ggml.tokens"] == Omitted("array of string", tokens)
    assert info.metadata["tokenizer.ggml.merges"] == ["a b", "a b", "a b"]  # short arrays are kept
    doc = json.dumps(info.as_dict())
    assert len(doc) < 3000  # 50,000 tokens summarised by their count, never dumped
    assert json.loads(doc)["metadata"]["tokenizer.ggml.tokens"] == {"omitted": "array of string", "length": tokens}
    assert info.describe() == (
        "GGUF v3 · llama 'tiny llama' · 22 blocks · context 2,048 · embedding 64 · vocab 50,000 · heads 4 (kv 2) "
        "· file type Q8_0 · tokenizer llama"
    )


def test_a_gguf_file_is_a_listed_checkpoint(tmp_path):
    path = _write(
        tmp_path / "m.gguf",
        {
            "token_embd.weight": np.zeros((96, 64), np.float16),
            "blk.0.attn_q.weight": (quantize(np.zeros((64, 64), np.float32), Q8_0), Q8_0),
        },
        metadata=_llama_metadata(blocks=1),
    )
    loaded = load(str(path))
    assert loaded.module is None and loaded.source == "checkpoint" and loaded.resolved == f"gguf:{path}"
    records = {r.name: r for r in loaded.inventory.tensors}
    assert {n: (r.kind, r.dtype, r.shape, r.nbytes) for n, r in records.items()} == {
        "token_embd.weight": ("stored", "float16", (96, 64), 96 * 64 * 2),
        "blk.0.attn_q.weight": ("stored", "Q8_0", (64, 64), 64 * 64 // 32 * 34),
    }
    assert loaded.inventory.totals.by_dtype["Q8_0"].numel == 64 * 64
    assert loaded.notes[0].startswith("GGUF v3 · llama 'tiny llama' · 1 block ·")
    assert "GGML tensor types: F16 x1, Q8_0 x1" in loaded.notes
    assert loaded.checkpoint_info.facts() == {
        "format": "gguf",
        "architecture": "llama",
        "block_count": 1,
        "head_count": 4,
        "head_count_kv": 2,
        "file_type": "Q8_0",
    }


def test_big_endian_file(tmp_path):
    path = _write(
        tmp_path / "be.gguf",
        {"w": np.zeros((3, 5), np.float32)},
        metadata=[lambda w: w.add_block_count(7)],
        endianess=gguf.GGUFEndian.BIG,
    )
    info, (t,) = read_gguf(path)
    assert info.byte_order == "big" and info.summary()["block_count"] == 7
    assert (t.name, t.shape, t.nbytes) == ("w", (3, 5), 60)


def test_split_files_are_listed_together(tmp_path):
    tensors = {f"blk.{i}.ffn_norm.weight": np.ones(8, np.float32) for i in range(5)}
    _write(tmp_path / "model.gguf", tensors, metadata=[lambda w: w.add_block_count(5)], split_max_tensors=2)
    files = sorted(p.name for p in tmp_path.glob("*.gguf"))
    assert files == ["model-00001-of-00003.gguf", "model-00002-of-00003.gguf", "model-00003-of-00003.gguf"]
    listing = gguf_listing(tmp_path / files[0])
    assert [t.name for t in listing.tensors] == list(tensors)
    assert "split GGUF: 3 files (model-00001-of-00003.gguf ... model-00003-of-00003.gguf)" in listing.notes
    (tmp_path / files[2]).unlink()
    with pytest.raises(LoadError, match=r"split GGUF file model-00003-of-00003\.gguf is missing"):
        gguf_listing(tmp_path / files[0])


# --- header only -----------------------------------------------------------------------------


def _header_only(path: Path, infos: dict[str, tuple[tuple[int, ...], object]], data_bytes: int) -> None:
    """A GGUF header for tensors whose data is never written: the file is extended to its full
    size with truncate (sparse), as if the data were there."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    for name, (shape, qtype) in infos.items():
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        writer.add_tensor_info(name, shape, np.dtype(np.float32), int(np.prod(shape)) // block * size, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    with open(path, "r+b") as fh:
        fh.truncate(-(-path.stat().st_size // 32) * 32 + data_bytes)  # the header, padded, then the data


def test_a_sparse_64_gb_file_lists_from_its_header(tmp_path):
    # 8 tensors of 8 GB: nothing past the header is ever written, so a read of it would hang on
    # zero pages for minutes (and a memory map of every tensor, as gguf's reader makes, would not fit)
    shape = (65536, 65536)
    infos = {f"blk.{i}.ffn_up.weight": (shape, gguf.GGMLQuantizationType.F16) for i in range(8)}
    path = tmp_path / "huge.gguf"
    _header_only(path, infos, 8 * 65536 * 65536 * 2)
    _, tensors = read_gguf(path)
    assert len(tensors) == 8 and all(t.nbytes == 65536 * 65536 * 2 and t.shape == shape for t in tensors)
    assert path.stat().st_size > 64 * 1024**3
    assert os.stat(path).st_blocks * 512 < 1024**2  # really sparse: the data was never written


def test_listing_reads_only_the_header_region(tmp_path):
    """Bytes read by the process, from /proc/self/io, while a file with 32 MB of tensor data is
    listed: the header and at most one read-ahead window."""
    io_file = Path("/proc/self/io")
    if not io_file.exists():
        pytest.skip("no /proc/self/io on this system")
    data = {f"blk.{i}.ffn_up.weight": np.ones((1024, 1024), np.float32) for i in range(8)}
    path = _write(tmp_path / "m.gguf", data, metadata=_llama_metadata(blocks=8))
    assert path.stat().st_size > 32 * 1024**2
    script = (
        "import sys; from pathlib import Path\n"
        "from paraminspect.loaders.checkpoints.gguf import read_gguf, WINDOW\n"
        "read_gguf(Path(sys.argv[1]))  # imports and warms up\n"
        "def rchar(): return int(next(l for l in open('/proc/self/io') if l.startswith('rchar')).split()[1])\n"
        "before = rchar(); info, _ = read_gguf(Path(sys.argv[1])); after = rchar()\n"
        "print(after - before, info.data_offset, WINDOW)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    read, header, window = map(int, proc.stdout.split())
    assert read <= header + window + 4096, (read, header)


def test_listing_imports_no_torch(tmp_path):
    path = _write(tmp_path / "m.gguf", {"token_embd.weight": np.zeros((8, 4), np.float32)}, metadata=_llama_metadata(1))
    script = (
        "import sys\n"
        "from paraminspect.loaders.dispatch import load\n"
        "loaded = load(sys.argv[1])\n"
        "print(len(loaded.inventory.tensors), 'torch' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "False"]


# --- bad, truncated and hostile files: one line each -------------------------------------------


def _raw(version: int = 3, tensors: int = 0, kvs: int = 0, body: bytes = b"") -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensors, kvs) + body


def _kv(key: str, vtype: int, payload: bytes) -> bytes:
    raw = key.encode()
    return struct.pack("<Q", len(raw)) + raw + struct.pack("<I", vtype) + payload


def _tensor_info(name: str, dims: list[int], ggml_type: int = 0, offset: int = 0) -> bytes:
    raw = name.encode()
    head = struct.pack("<Q", len(raw)) + raw + struct.pack("<I", len(dims))
    return head + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ggml_type, offset)


HOSTILE = {
    "empty": (b"", "not a GGUF file"),
    "not gguf": (b"PK\x03\x04" + bytes(60), "not a GGUF file"),
    "version 1": (_raw(version=1), "GGUF version 1 is not supported (GGUF v1"),
    "version 99": (_raw(version=99), "GGUF version 99 is not supported"),
    "cut in the counts": (_raw()[:12], "truncated GGUF file"),
    "2**60 tensors": (_raw(tensors=2**60), "claims 1,152,921,504,606,846,976 tensors"),
    "2**60 keys": (_raw(kvs=2**60), "claims 1,152,921,504,606,846,976 metadata keys"),
    "2**60-byte key": (
        _raw(kvs=1, body=struct.pack("<Q", 2**60) + bytes(64)),
        "is 1,152,921,504,606,846,976 bytes long",
    ),
    "2**60-byte string value": (
        _raw(kvs=1, body=_kv("general.name", 8, struct.pack("<Q", 2**60)) + bytes(64)),
        "truncated GGUF file (metadata 'general.name' needs 1,152,921,504,606,846,976 bytes",
    ),
    "2**60-item array": (
        _raw(kvs=1, body=_kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2**60)) + bytes(64)),
        "claims 1,152,921,504,606,846,976 items",
    ),
    "arrays nested deep": (
        _raw(kvs=1, body=_kv("x", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 9, 1) * 3 + bytes(64))),
        "arrays nested more than 3 deep",
    ),
    "unknown value type": (_raw(kvs=1, body=_kv("x", 77, bytes(64))), "unknown value type 77"),
    "duplicate key": (
        _raw(kvs=2, body=_kv("a", 4, struct.pack("<I", 1)) + _kv("a", 4, struct.pack("<I", 2))),
        "metadata key 'a' appears twice",
    ),
    "bad alignment": (
        _raw(kvs=1, body=_kv("general.alignment", 4, struct.pack("<I", 48)) + bytes(16)),
        "not a power of two",
    ),
    "1,000 dimensions": (
        _raw(tensors=1, body=struct.pack("<Q", 1) + b"w" + struct.pack("<I", 1000) + bytes(64)),
        "tensor 'w' has 1,000 dimensions (GGML allows 4)",
    ),
    "unknown ggml type": (_raw(tensors=1, body=_tensor_info("w", [4], ggml_type=999)), "GGML type 999"),
    "rows not whole blocks": (
        _raw(tensors=1, body=_tensor_info("w", [33, 2], ggml_type=8)),
        "packs 32 elements a block",
    ),
    "duplicate tensor": (
        _raw(tensors=2, body=_tensor_info("w", [4]) + _tensor_info("w", [4])),
        "tensor 'w' appears twice",
    ),
    "unaligned offset": (_raw(tensors=1, body=_tensor_info("w", [4], offset=3) + bytes(64)), "not a multiple of 32"),
    "2**62-element tensor": (
        _raw(tensors=1, body=_tensor_info("w", [2**31, 2**31], ggml_type=0)),
        "truncated GGUF file (tensor 'w' ends at byte",
    ),
    "name not utf-8": (_raw(tensors=1, body=struct.pack("<Q", 2) + b"\xff\xfe" + bytes(40)), "not UTF-8"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_bad_files_are_one_line_errors(tmp_path, case):
    raw, expected = HOSTILE[case]
    path = tmp_path / "bad.gguf"
    path.write_bytes(raw)
    with pytest.raises(LoadError) as caught:
        load(str(path))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)), message
    assert expected in message, message
    assert len(message) < 400


def test_odd_metadata_values_are_shown_not_trusted(tmp_path):
    """Well-formed values of unexpected types: a scalar where the tokens should be, nested head
    counts, a block count of 2**60 (gguf's name map has an entry per block: never built)."""
    from paraminspect.diffs import diff_sides

    torch = pytest.importorskip("torch")
    metadata = [
        lambda w: w.add_uint32("tokenizer.ggml.tokens", 5),
        lambda w: w.add_array("llama.attention.head_count", [[1, 2], [3]]),
        lambda w: w.add_uint64("llama.block_count", 2**60),
    ]
    path = _write(tmp_path / "odd.gguf", {"token_embd.weight": np.zeros((4, 4), np.float32)}, metadata=metadata)
    loaded = load(str(path))
    assert loaded.notes[0] == "GGUF v3 · llama · 1,152,921,504,606,846,976 blocks · heads [1, 2]/[3] per layer"
    assert loaded.checkpoint_info.summary()["vocab_size"] is None
    diff = diff_sides(torch.nn.Linear(4, 4), _gguf_side(path))
    assert diff.summary == (
        "loads: no - the GGUF file claims 1,152,921,504,606,846,976 blocks: not mapped (gguf's name map has an "
        "entry per block)"
    )


def test_truncated_data_section(tmp_path):
    path = _write(tmp_path / "m.gguf", {"a": np.zeros(64, np.float32), "b": np.zeros((8, 64), np.float32)})
    info, _ = read_gguf(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: info.data_offset + 256 + 100])
    with pytest.raises(LoadError, match=r"truncated GGUF file \(tensor 'b' ends at byte [\d,]+, the file has [\d,]+\)"):
        read_gguf(path)


def test_missing_file_and_a_folder(tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        load(str(tmp_path / "absent.gguf"))
    (tmp_path / "folder.gguf").mkdir()
    with pytest.raises(LoadError, match="is not a regular file"):
        load(str(tmp_path / "folder.gguf"))


# --- diff: llama.cpp names against a transformers model ---------------------------------------


def _gguf_side(path: Path):
    from paraminspect.diffs.gather import keyset_from_loaded

    return keyset_from_loaded(load(str(path)))


def _explanations(diff) -> dict[str, list]:
    out: dict[str, list] = {}
    for e in diff.explanations:
        out.setdefault(e.kind, []).append(e)
    return out


def test_diff_maps_llama_cpp_names_to_the_models_names(tmp_path):
    from paraminspect.diffs import diff_sides

    model = _llama_model(blocks=2, tie=False)
    expected = _convert(model, tmp_path / "llama.gguf", 2, extra={"rope_freqs.weight": np.ones(8, np.float32)})
    diff = diff_sides(model, _gguf_side(tmp_path / "llama.gguf"))
    assert not diff.loadable and diff.verdict_by == "load_state_dict"
    assert diff.unexplained_missing == () and diff.unexplained_unexpected == ()
    # every llama.cpp name mapped to the name it was converted from
    assert diff.mapping == expected and len(expected) == len(model.state_dict()) - 1
    gguf_found = [e.message for e in diff.explanations if e.kind == "gguf"]
    assert gguf_found[0].startswith(
        f"{len(expected)} keys of the GGUF file are llama.cpp's names (architecture 'llama'): gguf's tensor name "
        "map gives the model's names (`token_embd.weight` is `model.embed_tokens.weight`)"
    )
    assert diff.summary == f"loads: no - {gguf_found[0]}"
    quantized = sum(1 for t in model.state_dict().values() if t.dim() == 2) - 1  # lm_head dropped
    assert f"{quantized} tensors of the GGUF file are quantized (Q8_0 x{quantized})" in gguf_found[1]
    assert gguf_found[2].startswith("`attn_q`/`attn_k` weights (4 tensors): llama.cpp's converter permutes the rows")
    permuted = next(e for e in diff.explanations if "permutes the rows" in e.message)
    assert not permuted.blocks and len(permuted.names) == 2 * 2 * 2  # q and k of 2 blocks, both names
    assert gguf_found[3].startswith("`lm_head.weight`: the GGUF file has no `output.weight`")
    assert "tie_word_embeddings=True" in gguf_found[3]
    assert gguf_found[4].startswith("`rope_freqs.weight` (ROPE_FREQS): llama.cpp tensors with no name in the model")
    assert "dtype" not in _explanations(diff)  # Q8_0 is no dtype load_state_dict casts from
    shapes = {diff.mapping[name]: key.shape for name, key in diff.right.keys.items() if name in diff.mapping}
    assert shapes == {k: tuple(t.shape) for k, t in model.state_dict().items() if k != "lm_head.weight"}


def test_the_mapping_loads_the_dequantized_file_into_the_model(tmp_path):
    """What the report says to do, done: rename with the mapping, dequantize, undo the permutation."""
    import torch
    from gguf.quants import dequantize

    from paraminspect.diffs import diff_sides

    torch.manual_seed(0)
    source = _llama_model(blocks=2, tie=True, device="cpu")
    _convert(source, tmp_path / "llama.gguf", 2)
    target = _llama_model(blocks=2, tie=True)
    diff = diff_sides(target, _gguf_side(tmp_path / "llama.gguf"))
    kinds = [e.kind for e in diff.explanations]
    assert "tied" in kinds  # a tied model: the tie fills lm_head.weight (no gguf tied-output message)
    assert not any("no `output.weight`" in e.message for e in diff.explanations)
    state = {}
    for t in gguf.GGUFReader(str(tmp_path / "llama.gguf")).tensors:
        values = dequantize(t.data, t.tensor_type).reshape(tuple(reversed(t.shape.tolist())))
        if t.name.endswith((".attn_q.weight", ".attn_k.weight")):
            values = _unpermute(values, LLAMA["num_attention_heads" if ".attn_q." in t.name else "num_key_value_heads"])
        state[diff.mapping[t.name]] = torch.from_numpy(np.array(values, dtype=np.float32))
    loaded = _llama_model(blocks=2, tie=True, device="cpu")
    missing, unexpected = loaded.load_state_dict(state, strict=False)
    assert missing == ["lm_head.weight"] and unexpected == []  # the tie fills it
    original = source.state_dict()
    assert torch.allclose(loaded.model.norm.weight, original["model.norm.weight"])
    for proj in ("q_proj", "k_proj", "v_proj"):
        want = original[f"model.layers.1.self_attn.{proj}.weight"]
        got = loaded.model.layers[1].self_attn.get_submodule(proj).weight
        assert (got - want).abs().max() < 0.02 * want.abs().max()  # Q8_0's rounding, nothing more


def test_diff_explains_a_layer_count_mismatch(tmp_path):
    from paraminspect.diffs import diff_sides

    _convert(_llama_model(blocks=2), tmp_path / "two.gguf", 2, drop_output=False)
    diff = diff_sides(_llama_model(blocks=3), _gguf_side(tmp_path / "two.gguf"))
    layer = next(e for e in diff.explanations if "blocks," in e.message)
    assert layer.message.startswith("the GGUF file has 2 blocks, the model 3 layers: 9 keys of the extra layers")
    assert layer.message.endswith("build it with num_hidden_layers=2")
    assert all(".layers.2." in n for n in layer.names)
    assert diff.unexplained_missing == () and diff.unexplained_unexpected == ()


def test_diff_explains_experts_llama_cpp_keeps_apart(tmp_path):
    """transformers 5's Mixtral fuses each layer's experts into `experts.gate_up_proj`
    (E, 2*ff, hidden); llama.cpp keeps `ffn_gate_exps` and `ffn_up_exps`."""
    transformers = pytest.importorskip("transformers")
    import torch

    from paraminspect.diffs import diff_sides

    config = transformers.MixtralConfig(num_hidden_layers=1, num_local_experts=4, **LLAMA)
    with torch.device("meta"):
        model = transformers.MixtralForCausalLM(config)
    shapes = {k: tuple(t.shape) for k, t in model.state_dict().items()}
    fused = shapes.get("model.layers.0.mlp.experts.gate_up_proj")
    if fused is None:
        pytest.skip("this transformers keeps one module per expert")
    experts, double_ff, hidden = fused
    arrays = {
        "token_embd.weight": np.zeros(shapes["model.embed_tokens.weight"], np.float32),
        "blk.0.ffn_gate_exps.weight": np.zeros((experts, double_ff // 2, hidden), np.float32),
        "blk.0.ffn_up_exps.weight": np.zeros((experts, double_ff // 2, hidden), np.float32),
        "blk.0.ffn_down_exps.weight": np.zeros(shapes["model.layers.0.mlp.experts.down_proj"], np.float32),
        "blk.0.ffn_gate_inp.weight": np.zeros(shapes["model.layers.0.mlp.gate.weight"], np.float32),
    }
    _write(tmp_path / "moe.gguf", arrays, metadata=[lambda w: w.add_block_count(1)])
    diff = diff_sides(model, _gguf_side(tmp_path / "moe.gguf"))
    assert diff.mapping["blk.0.ffn_down_exps.weight"] == "model.layers.0.mlp.experts.down_proj"
    fused_found = next(e for e in diff.explanations if "concatenated" in e.message)
    assert fused_found.message == (
        "`model.layers.0.mlp.experts.gate_up_proj` in the model is `blk.0.ffn_gate_exps.weight` + "
        "`blk.0.ffn_up_exps.weight` of the GGUF file concatenated along dim 1: llama.cpp keeps them apart: "
        "concatenate them when converting"
    )
    assert "model.layers.0.mlp.experts.gate_up_proj" not in diff.unexplained_missing


def test_an_architecture_gguf_does_not_know(tmp_path):
    from dataclasses import replace

    from paraminspect.diffs import diff_sides

    _convert(_llama_model(blocks=1), tmp_path / "m.gguf", 1)
    side = _gguf_side(tmp_path / "m.gguf")
    side = replace(side, format_facts={**side.format_facts, "architecture": "not-an-arch"})
    diff = diff_sides(_llama_model(blocks=1), side)
    (found,) = [e for e in diff.explanations if e.kind == "gguf"]
    assert "architecture 'not-an-arch' is not in this gguf package's tensor name map" in found.message
