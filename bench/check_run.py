"""What `check --run` costs on top of the static `check`, for one (large) timm model.

Not a test. Each round, interleaved, runs in fresh processes:
  floor   a bare script: import torch+timm, build the model on meta, one forward + backward
  static  `paraminspect check MODEL`
  run     `paraminspect check MODEL --run`
and prints the median wall time of each plus the ratios run/static and (run - static)/floor-forward.
Usage: python bench/check_run.py [MODEL] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FLOOR = """
import sys, time, torch, timm
t0 = time.perf_counter()
with torch.device("meta"):
    m = timm.create_model(sys.argv[1], pretrained=False)
x = torch.randn(1, *m.pretrained_cfg["input_size"], device="meta")
t1 = time.perf_counter()
m(x).float().sum().backward()
print(t1 - t0, time.perf_counter() - t1)
"""


def _wall(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return elapsed, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="vit_giant_patch14_224")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "paraminspect", "check", args.model]
    times: dict[str, list[float]] = {"floor": [], "floor forward+backward": [], "static": [], "run": []}
    for _ in range(args.rounds):
        wall, out = _wall([sys.executable, "-c", FLOOR, args.model])
        times["floor"].append(wall)
        times["floor forward+backward"].append(float(out.split()[1]))
        times["static"].append(_wall(cli)[0])
        times["run"].append(_wall([*cli, "--run"])[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    for key, values in times.items():
        print(f"{key:24s} median {med[key]:6.2f}s   runs {', '.join(f'{v:.2f}' for v in values)}")
    print(f"run / static: {med['run'] / med['static']:.2f}x")
    extra = med["run"] - med["static"]
    print(f"run - static: {extra:.2f}s = {extra / med['floor forward+backward']:.2f}x a bare meta forward+backward")
    return 0


if __name__ == "__main__":
    sys.exit(main())
