"""Past the import floor: the runs that should cost less than `python -c "import torch"`, and
the sweep that should cost less than a bare sequential build. Ratios against floors measured
in the same run, interleaved (these machines are shared and noisy).

    python bench/past_floor.py               # 5 runs, medians
    python bench/past_floor.py --runs 3 --only cache
    python bench/past_floor.py --runs 1 --warmup 0 --all-timm --only "timm:*"

Cases:
- cache: a repeated `check` of an unchanged factory (answered from .paraminspect_cache/)
  against `python -c "import torch"`.
- safetensors: `show` of a 10 GiB (sparse) safetensors file and of a 4-shard index against
  `python -c "import torch"`.
- sweep: `check 'timm:resnet*' -j 2` against a bare script that builds the same models on meta
  one after another in one process (imports once).
- with --all-timm (minutes a run): `check 'timm:*'`, every timm model with a worker per core,
  against the same bare sequential build of all of them.
Standard library only (plus bench/run.py's measuring helpers).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import PY, ROOT, SAMPLES, Case, cell, machine, print_table, versions
from run import run_case as _run_case


def _sparse_safetensors(path: Path, total_bytes: int, tensors: int, prefix: str = "") -> None:
    """A valid safetensors file of `total_bytes` data whose pages are never written (sparse)."""
    each = total_bytes // tensors // 4 * 4
    header = {
        f"{prefix}layers.{i}.weight": {"dtype": "F32", "shape": [each // 4], "data_offsets": [i * each, (i + 1) * each]}
        for i in range(tensors)
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + each * tensors)


def _index(folder: Path, shards: int) -> Path:
    """A sharded checkpoint: `shards` sparse files of 50 tensors each and their index."""
    weight_map = {}
    for s in range(shards):
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        _sparse_safetensors(folder / name, 256 * 1024**2, 50, prefix=f"shard{s}.")
        weight_map.update({f"shard{s}.layers.{i}.weight": name for i in range(50)})
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return index


def _sweep_floor(pattern: str) -> str:
    return (
        "import fnmatch, torch, timm\n"
        f"names = [n for n in timm.list_models() if fnmatch.fnmatchcase(n, {pattern!r})]\n"
        "for n in names:\n"
        "    with torch.device('meta'):\n"
        "        timm.create_model(n, pretrained=False)\n"
    )


def cases(work: Path, env: dict[str, str], all_timm: bool = False) -> list[Case]:
    import_torch = [PY, "-c", "import torch"]
    pi = [PY, "-m", "paraminspect"]
    big = work / "big.safetensors"
    _sparse_safetensors(big, 10 * 1024**3, 400)
    index = _index(work, 4)
    factory = f"{SAMPLES / 'tiny_vit.py'}:build"
    # one miss fills the cache; every measured run after it is a hit
    subprocess.run([*pi, "check", factory], cwd=ROOT, env=env, capture_output=True)
    found = [
        Case(
            "cache: repeated check of an unchanged factory",
            {"floor": import_torch, "show": [*pi, "check", factory]},
            {"show": (0, 1)},
        ),
        Case("safetensors: show of a 10 GiB file", {"floor": import_torch, "show": [*pi, "show", str(big)]}),
        Case("safetensors: show of a 4-shard index", {"floor": import_torch, "show": [*pi, "show", str(index)]}),
        Case(
            "sweep: check 'timm:resnet*' -j 2",
            {
                "floor": [PY, "-c", _sweep_floor("resnet*")],
                "show": [*pi, "check", "timm:resnet*", "-j", "2", "--no-cache"],
            },
            {"show": (0, 1)},
        ),
    ]
    if all_timm:
        found.append(
            Case(
                "sweep: check 'timm:*'",
                {"floor": [PY, "-c", _sweep_floor("*")], "show": [*pi, "check", "timm:*", "--no-cache"]},
                {"show": (0, 1)},
            )
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--only", action="append", default=[], help="only cases whose name contains this")
    parser.add_argument("--all-timm", action="store_true", help="also sweep every timm model (minutes a run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(ROOT),
            "NO_COLOR": "1",
            "PARAMINSPECT_CACHE_DIR": str(work / "cache"),
        }
        todo = [c for c in cases(work, env, args.all_timm) if not args.only or any(o in c.name for o in args.only)]
        for case in todo:
            _run_case(case, env, args.runs, args.warmup, 0)
    print(f"machine: {machine()}")
    print(f"versions: {versions(env)}")
    print(f"medians of {args.runs} runs (after {args.warmup} warm-up), wall time / peak RSS")
    print()
    rows = []
    for c in todo:
        floor, run = c.median("floor"), c.median("show")
        ratio = f"{run.wall_s / floor.wall_s:.2f}x" if floor and run else "-"
        rows.append([c.name, cell(floor), cell(run), ratio])
    print_table(["case", "floor", "paraminspect", "ratio (wall)"], rows)


if __name__ == "__main__":
    main()
