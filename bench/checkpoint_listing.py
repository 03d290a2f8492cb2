"""Listing a checkpoint costs what its header costs, not what its data costs.

Not a test. Writes, under a temporary folder:
  small   a 4 MB safetensors file and a 4 MB torch state_dict
  large   a ~10 GB safetensors file (sparse: its data is never written) and a torch
          state_dict N times the small one's size (written for real: torch.save has to)
with the same number of tensors, then times paraminspect.loaders.checkpoints.load_checkpoint on each
(median of several rounds, in this process) and prints large/small ratios: about 1 when
no tensor data is read. The torch file is dropped from the page cache first when possible
(posix_fadvise), so a read of its data would show.
Usage: python bench/checkpoint_listing.py [--torch-mb 400] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import tempfile
import time
from pathlib import Path


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


def timed(path: Path, rounds: int) -> float:
    from paraminspect.loaders.checkpoints import load_checkpoint

    times = []
    for _ in range(rounds):
        drop_cache(path)
        start = time.perf_counter()
        loaded = load_checkpoint(str(path))
        times.append(time.perf_counter() - start)
        assert loaded.inventory is not None and loaded.inventory.totals.tensors > 0
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--torch-mb", type=int, default=400, help="size of the large torch file (written to disk)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    tensors = 100
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
    for label, seconds in results.items():
        print(f"{label:36s} {seconds * 1000:8.2f} ms")
    labels = list(results)
    print(f"ratio safetensors large/small: {results[labels[1]] / results[labels[0]]:.2f}")
    print(f"ratio torch large/small:       {results[labels[3]] / results[labels[2]]:.2f}")


if __name__ == "__main__":
    main()
