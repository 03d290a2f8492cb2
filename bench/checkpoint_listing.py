"""Listing a checkpoint costs what its header costs, not what its data costs.

Not a test. Writes, under a temporary folder:
  small   a 4 MB safetensors file and a 4 MB torch state_dict
  large   a ~10 GB safetensors file (sparse: its data is never written) and a torch
          state_dict N times the small one's size (written for real: torch.save has to)
with the same number of tensors, then times paraminspect.loaders.checkpoints.load_checkpoint on each
(median of several rounds, in this process) and prints large/small ratios: about 1 when
no tensor data is read. The torch file is dropped from the page cache first when possible
(posix_fadvise), so a read of its data would show.

GGUF and DCP (with --no-gguf / --no-dcp to skip):
  gguf    a small file and a 7B-llama-shaped one (291 tensors, 8 GB of F16/Q8_0, sparse: the
          header is written with gguf's writer, the data never is), both with a 128,256-token
          vocabulary in the header as llama 3's files have; gguf.GGUFReader on the large one
          for reference (it memory-maps the file and walks every token)
  dcp     `dcp.save` folders of 4 MB and N MB (written for real), listed from `.metadata`
and, as whole processes, `python -c "import torch"` (the floor) against a fresh process that
lists the large GGUF file / DCP folder: those ratios say what a listing costs next to the
import a user would pay to read the file with torch.
Usage: python bench/checkpoint_listing.py [--torch-mb 400] [--dcp-mb 200] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOCAB = 128_256  # llama 3


def write_safetensors(path: Path, tensors: int, bytes_each: int) -> None:
    header, offset = {}, 0
    for i in range(tensors):
        numel = bytes_each // 4
        header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": [numel], "data_offsets": [offset, offset + numel * 4]}
        offset += numel * 4
    raw = json.dumps(header).encode()
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)  # sparse on most filesystems


def write_torch(path: Path, tensors: int, bytes_each: int) -> None:
    import torch

    torch.save({f"layers.{i}.weight": torch.ones(bytes_each // 4) for i in range(tensors)}, path)


def drop_cache(path: Path) -> None:
    if hasattr(os, "posix_fadvise"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed(path: Path, rounds: int, load=None) -> float:
    from paraminspect.loaders.checkpoints import load_checkpoint

    load = load or load_checkpoint
    times = []
    for _ in range(rounds):
        drop_cache(path)
        start = time.perf_counter()
        loaded = load(str(path))
        times.append(time.perf_counter() - start)
        assert loaded.inventory is not None and loaded.inventory.totals.tensors > 0
    return statistics.median(times)


def write_gguf(path: Path, layers: int, hidden: int, ffn: int, vocab: int) -> None:
    """A llama-shaped GGUF header (gguf's writer), data section sparse: F16 embeddings and
    output, Q8_0 projections, F32 norms."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(layers)
    writer.add_context_length(8192)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(32)
    writer.add_head_count_kv(8)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"token{i}" for i in range(vocab)])
    writer.add_token_types([1] * vocab)
    f16, q8, f32 = gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.F32

    def info(name: str, shape: tuple[int, ...], qtype) -> None:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        nbytes = int(np.prod(shape)) // block * size
        writer.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=qtype)

    info("token_embd.weight", (vocab, hidden), f16)
    for i in range(layers):
        for name, shape in (
            ("attn_q", (hidden, hidden)),
            ("attn_k", (hidden // 4, hidden)),
            ("attn_v", (hidden // 4, hidden)),
            ("attn_output", (hidden, hidden)),
            ("ffn_gate", (ffn, hidden)),
            ("ffn_up", (ffn, hidden)),
            ("ffn_down", (hidden, ffn)),
        ):
            info(f"blk.{i}.{name}.weight", shape, q8)
        info(f"blk.{i}.attn_norm.weight", (hidden,), f32)
        info(f"blk.{i}.ffn_norm.weight", (hidden,), f32)
    info("output_norm.weight", (hidden,), f32)
    info("output.weight", (vocab, hidden), f16)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    total = sum(t.nbytes + (-t.nbytes % 32) for t in writer.tensors[0].values())
    writer.close()
    with open(path, "r+b") as fh:
        fh.truncate(-(-path.stat().st_size // 32) * 32 + total)  # sparse on most filesystems


def write_dcp(folder: Path, tensors: int, bytes_each: int) -> None:
    import warnings

    import torch
    import torch.distributed.checkpoint as dcp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({f"layers.{i}.weight": torch.ones(bytes_each // 4) for i in range(tensors)}, checkpoint_id=folder)


def process_seconds(code: str, rounds: int) -> float:
    """Median wall time of `python -c code` as a whole process."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--torch-mb", type=int, default=400, help="size of the large torch file (written to disk)")
    parser.add_argument("--dcp-mb", type=int, default=200, help="size of the large DCP folder (written to disk)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-gguf", action="store_true")
    parser.add_argument("--no-dcp", action="store_true")
    args = parser.parse_args()
    tensors = 100
    ratios: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {
            "safetensors small (4 MB)": (write_safetensors, folder / "small.safetensors", 40_000),
            "safetensors large (10 GB, sparse)": (write_safetensors, folder / "large.safetensors", 100_000_000),
            "torch small (4 MB)": (write_torch, folder / "small.pt", 40_000),
            f"torch large ({args.torch_mb} MB)": (write_torch, folder / "large.pt", args.torch_mb * 10_000),
        }
        for write, path, each in files.values():
            write(path, tensors, each)
        timed(folder / "small.pt", 1)  # warm up: imports
        results = {label: timed(path, args.rounds) for label, (_, path, _) in files.items()}
        labels = list(results)
        ratios.append(f"ratio safetensors large/small: {results[labels[1]] / results[labels[0]]:.2f}")
        ratios.append(f"ratio torch large/small:       {results[labels[3]] / results[labels[2]]:.2f}")
        floor = None
        if not args.no_gguf or not args.no_dcp:
            floor = process_seconds("import torch", args.rounds)
            results['python -c "import torch" (process)'] = floor
        if not args.no_gguf:
            from paraminspect.loaders.dispatch import load

            small, large = folder / "small.gguf", folder / "llama-7b-shaped.gguf"
            write_gguf(small, 2, 256, 512, VOCAB)
            write_gguf(large, 32, 4096, 11008, VOCAB)
            size = large.stat().st_size / 1e9
            results["gguf small (2 blocks, 128k vocab)"] = timed(small, args.rounds, load)
            results[f"gguf 7B-shaped ({size:.1f} GB, sparse)"] = timed(large, args.rounds, load)
            import gguf

            results["gguf.GGUFReader on the 7B-shaped file"] = timed_reader(large, max(1, args.rounds // 3), gguf)
            code = f"from paraminspect.loaders.dispatch import load; load({str(large)!r})"
            listing = process_seconds(code, args.rounds)
            results["gguf 7B-shaped: a process that lists it"] = listing
            g = [k for k in results if k.startswith("gguf")]
            ratios.append(f"ratio gguf large/small:        {results[g[1]] / results[g[0]]:.2f}")
            ratios.append(f"ratio gguf listing process / import torch: {listing / floor:.2f}")
            ratios.append(f"ratio GGUFReader / our listing (in process): {results[g[2]] / results[g[1]]:.1f}")
        if not args.no_dcp:
            from paraminspect.loaders.dispatch import load

            small, large = folder / "dcp_small", folder / "dcp_large"
            write_dcp(small, tensors, 40_000)
            write_dcp(large, tensors, args.dcp_mb * 10_000)
            results["dcp small (4 MB)"] = timed(
                small / ".metadata", args.rounds, lambda p: load(str(Path(p).parent))
            )
            results[f"dcp large ({args.dcp_mb} MB)"] = timed(
                large / ".metadata", args.rounds, lambda p: load(str(Path(p).parent))
            )
            code = f"from paraminspect.loaders.dispatch import load; load({str(large)!r})"
            listing = process_seconds(code, args.rounds)
            results["dcp large: a process that lists it"] = listing
            d = [k for k in results if k.startswith("dcp")]
            ratios.append(f"ratio dcp large/small:         {results[d[1]] / results[d[0]]:.2f}")
            ratios.append(f"ratio dcp listing process / import torch: {listing / floor:.2f}")
    for label, seconds in results.items():
        print(f"{label:42s} {seconds * 1000:9.2f} ms")
    for line in ratios:
        print(line)


def timed_reader(path: Path, rounds: int, gguf) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        reader = gguf.GGUFReader(str(path))
        times.append(time.perf_counter() - start)
        assert reader.tensors
    return statistics.median(times)


if __name__ == "__main__":
    main()
