"""What output shapes, FLOPs and activation memory cost: paraminspect's forward pass on meta
against torchinfo's `summary` on CPU, in the same run.

Not a test. Each round, interleaved, runs fresh processes (wall time and peak RSS of each):
  floor       `python -c "import torch"`
  paraminspect  build MODEL on meta (paraminspect's loader), inventory, forward_stats on
              --input-shape, the module tree drawn: what `show MODEL --input-shape ...` adds up
              to once wired (the CLI's own start-up and printing excluded)
  torchinfo   import timm, build MODEL on CPU, `summary(model, input_size=...)` (pip install
              torchinfo; the row is skipped with a message without it)
  70B         paraminspect's pass over sample_models/huge.py:build with input ids (1, 4096)

Prints medians, the ratio paraminspect / torchinfo (target: at most 0.5) and the 70B case's
time and peak memory against the floor's.
Usage: python bench/forward_stats.py [MODEL] [--input-shape 1,3,224,224] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FLOOR = "import torch"

OURS = """
import sys, time
import torch
start = time.perf_counter()
from paraminspect.forward.examples import RunOptions, resolve_example
from paraminspect.forward.stats import forward_stats
from paraminspect.loaders.dispatch import load
from paraminspect.render.tree import tree_lines, tree_rows
from paraminspect.tensors.totals import module_summary
from paraminspect.tensors.walk import build_inventory

loaded = load(sys.argv[1])
model = loaded.module
inventory = build_inventory(model)
options = RunOptions(input_ids=sys.argv[3]) if sys.argv[2] == "ids" else RunOptions(input_shape=sys.argv[3])
stats = forward_stats(model, resolve_example(options, model))
lines = tree_lines(tree_rows(module_summary(inventory, 99), stats), 120)
print(time.perf_counter() - start, loaded.build_device, stats.engine, stats.flops, stats.activation_bytes, len(lines))
"""

TORCHINFO = """
import sys, time
import torch
start = time.perf_counter()
from torchinfo import summary
import timm
model = timm.create_model(sys.argv[1], pretrained=False)
shape = tuple(int(n) for n in sys.argv[2].split(","))
result = summary(model, input_size=shape, verbose=0)
print(time.perf_counter() - start, result.total_mult_adds)
"""


def _run(code: str, *args: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of `python -c code args` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{code.strip().splitlines()[-1]} {' '.join(args)} failed ({proc.returncode}): {err.strip()[-800:]}")
    return elapsed, usage.ru_maxrss / 1024, out.strip()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="vit_base_patch16_224")
    parser.add_argument("--input-shape", default="1,3,224,224")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-70b", action="store_true", help="leave out the 70B decoder row")
    args = parser.parse_args()
    have_torchinfo = importlib.util.find_spec("torchinfo") is not None
    if not have_torchinfo:
        print("torchinfo is not installed (pip install torchinfo): its row is skipped")
    rows: dict[str, list[tuple[float, float]]] = {"floor": [], "paraminspect": []}
    after_torch: dict[str, list[float]] = {"paraminspect": [], "torchinfo": []}  # seconds after import torch
    if have_torchinfo:
        rows["torchinfo"] = []
    if not args.no_70b:
        rows["70B decoder"] = []
    outputs: dict[str, str] = {}
    for _ in range(args.rounds):
        wall, rss, _ = _run(FLOOR)
        rows["floor"].append((wall, rss))
        wall, rss, outputs["paraminspect"] = _run(OURS, args.model, "shape", args.input_shape)
        rows["paraminspect"].append((wall, rss))
        after_torch["paraminspect"].append(float(outputs["paraminspect"].split()[0]))
        if have_torchinfo:
            wall, rss, outputs["torchinfo"] = _run(TORCHINFO, args.model, args.input_shape)
            rows["torchinfo"].append((wall, rss))
            after_torch["torchinfo"].append(float(outputs["torchinfo"].split()[0]))
        if not args.no_70b:
            wall, rss, outputs["70B decoder"] = _run(OURS, "sample_models/huge.py:build", "ids", "1,4096")
            rows["70B decoder"].append((wall, rss))
    medians = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v)) for k, v in rows.items()}
    print(f"{args.model} with input {args.input_shape}; {args.rounds} rounds, fresh processes")
    for key, values in rows.items():
        wall, rss = medians[key]
        runs = ", ".join(f"{w:.2f}" for w, _ in values)
        print(f"{key:14s} median {wall:6.2f} s  peak RSS {rss:7.0f} MiB   runs {runs}")
    for key, out in outputs.items():
        print(f"  {key}: {out}")
    ours = medians["paraminspect"][0]
    if have_torchinfo:
        print(f"paraminspect / torchinfo: {ours / medians['torchinfo'][0]:.2f}x (target: at most 0.5x)")
        # both processes import torch first: what each costs after that (timm's import included)
        mine, theirs = (statistics.median(after_torch[k]) for k in ("paraminspect", "torchinfo"))
        print(f"after `import torch`: paraminspect {mine:.2f} s, torchinfo {theirs:.2f} s: {mine / theirs:.2f}x")
    floor_wall, floor_rss = medians["floor"]
    print(f"paraminspect / floor (import torch): {ours / floor_wall:.2f}x")
    if not args.no_70b:
        wall, rss = medians["70B decoder"]
        print(
            f"70B decoder, input ids (1, 4096): {wall:.2f} s ({wall / floor_wall:.2f}x the floor), "
            f"peak RSS {rss:.0f} MiB ({rss - floor_rss:+.0f} MiB over the floor's)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
