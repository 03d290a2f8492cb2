"""`diff` of a model against a header-only checkpoint, next to `show` of the same model.

    python bench/diff.py [--runs 5]

For sample_models/huge.py:build (~70B parameters, 724 tensors) and build_many (50,000
tensors), a safetensors file holding exactly the model's state_dict is written as a header
plus a hole (a sparse file: no data on disk, nothing to read), then each command runs in a
fresh process, interleaved, and the medians of wall time and peak RSS are printed with the
ratio diff/show. Standard library only (the header is written by hand).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CASES = {
    "70B (724 tensors)": f"{ROOT}/sample_models/huge.py:build",
    "50,000 tensors": f"{ROOT}/sample_models/huge.py:build_many",
}
ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2, "int64": 8}
CODES = {"float32": "F32", "bfloat16": "BF16", "float16": "F16", "int64": "I64"}


def run(args: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "paraminspect", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"paraminspect {' '.join(args)} exited {code}")
    return wall, usage.ru_maxrss * 1024


def header_only_checkpoint(spec: str, path: Path) -> int:
    """A safetensors file with the state_dict's names, shapes and dtypes and no data."""
    out = subprocess.run([PY, "-m", "paraminspect", "show", spec, "--format", "json"], capture_output=True, check=True)
    header, offset = {}, 0
    for t in json.loads(out.stdout)["tensors"]:
        if t["kind"] not in ("parameter", "buffer") or t["persistent"] is False:
            continue
        size = math.prod(t["shape"]) * ITEMSIZE[t["dtype"]]
        for name in (t["name"], *t["aliases"]):
            header[name] = {"dtype": CODES[t["dtype"]], "shape": t["shape"], "data_offsets": [offset, offset + size]}
            offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as fh:
        fh.write(len(raw).to_bytes(8, "little") + raw)
        fh.truncate(8 + len(raw) + offset)
    return len(header)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"{'case':<20} {'show s':>8} {'diff s':>8} {'ratio':>6} {'show MiB':>9} {'diff MiB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, spec in CASES.items():
            ckpt = Path(tmp) / "model.safetensors"
            header_only_checkpoint(spec, ckpt)
            commands = {
                "show": ["show", spec, "--format", "json"],
                "diff": ["diff", spec, str(ckpt), "--format", "json"],
            }
            samples: dict[str, list[tuple[float, int]]] = {k: [] for k in commands}
            for args in commands.values():  # warm-up round
                run(args)
            for _ in range(runs):
                for name, args in commands.items():
                    samples[name].append(run(args))
            wall = {k: statistics.median(s[0] for s in v) for k, v in samples.items()}
            rss = {k: statistics.median(s[1] for s in v) / 2**20 for k, v in samples.items()}
            print(
                f"{label:<20} {wall['show']:>8.2f} {wall['diff']:>8.2f} {wall['diff'] / wall['show']:>6.2f} "
                f"{rss['show']:>9.0f} {rss['diff']:>9.0f}"
            )


if __name__ == "__main__":
    main()
