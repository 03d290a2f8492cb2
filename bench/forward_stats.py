"""What output shapes, FLOPs and activation memory cost: the real `paraminspect show MODEL
--input-shape ...` command against torchinfo's `summary` on CPU, in the same run.

Not a test. Each round, interleaved, runs fresh processes (wall time and peak RSS of each):
  floor        `python -c "import torch"`
  import floor `python -c "import torch, timm"`: what both tools pay before any work (timm
               imports torchvision, which imports torch._dynamo)
  CLI          `python -m paraminspect show MODEL --input-shape ... --no-cache`, stdout piped:
               the command a user types, from process start to exit (its spare process and
               model process included; --no-cache: never answered from an earlier run)
  in-process   a script doing what the CLI's model process does (build on meta, inventory,
               forward_stats, the module tree): the CLI's own start-up and rendering excluded
  torchinfo    import timm, build MODEL on CPU, `summary(model, input_size=...)` (pip install
               torchinfo; the row is skipped with a message without it)
  70B          `paraminspect show sample_models/huge.py:build --input-ids 1,4096 --no-cache`
               (torchinfo cannot allocate it)

Prints medians, the ratio CLI / torchinfo (the issue's target: at most 0.5), the same past
the import floor, and the 70B case's time and peak memory against the floor's. A repeated
CLI run (the result cache answering, no torch import) is printed for information only.
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


IMPORT_FLOOR = "import torch, timm"


def _run(code: str, *args: str, module: bool = False) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of `python -c code args` (or `python -m code
    args`) in a fresh process."""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m" if module else "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{code.strip().splitlines()[-1]} {' '.join(args)} failed ({proc.returncode}): {err.strip()[-800:]}")
    # wait4's peak: the process's own, or a descendant's it reaped (the CLI's model process)
    return elapsed, usage.ru_maxrss / 1024, out.strip()


def _cli(*args: str) -> tuple[float, float, str]:
    wall, rss, out = _run("paraminspect", "show", *args, module=True)
    return wall, rss, out.splitlines()[-1] if out else ""


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
    rows: dict[str, list[tuple[float, float]]] = {"floor": [], "import floor": [], "CLI": [], "in-process": []}
    if have_torchinfo:
        rows["torchinfo"] = []
    if not args.no_70b:
        rows["70B decoder CLI"] = []
    outputs: dict[str, str] = {}
    cli_args = (args.model, "--input-shape", args.input_shape)
    for _ in range(args.rounds):
        rows["floor"].append(_run(FLOOR)[:2])
        rows["import floor"].append(_run(IMPORT_FLOOR)[:2])
        wall, rss, outputs["CLI"] = _cli(*cli_args, "--no-cache")
        rows["CLI"].append((wall, rss))
        wall, rss, outputs["in-process"] = _run(OURS, args.model, "shape", args.input_shape)
        rows["in-process"].append((wall, rss))
        if have_torchinfo:
            wall, rss, outputs["torchinfo"] = _run(TORCHINFO, args.model, args.input_shape)
            rows["torchinfo"].append((wall, rss))
        if not args.no_70b:
            huge = ("sample_models/huge.py:build", "--input-ids", "1,4096", "--no-cache")
            wall, rss, outputs["70B decoder CLI"] = _cli(*huge)
            rows["70B decoder CLI"].append((wall, rss))
    medians = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v)) for k, v in rows.items()}
    print(f"{args.model} with input {args.input_shape}; {args.rounds} rounds, fresh processes")
    for key, values in rows.items():
        wall, rss = medians[key]
        runs = ", ".join(f"{w:.2f}" for w, _ in values)
        print(f"{key:16s} median {wall:6.2f} s  peak RSS {rss:7.0f} MiB   runs {runs}")
    for key, out in outputs.items():
        print(f"  {key}: {out}")
    ours = medians["CLI"][0]
    floor_wall, floor_rss = medians["floor"]
    imports = medians["import floor"][0]
    if have_torchinfo:
        theirs = medians["torchinfo"][0]
        print(f"CLI / torchinfo: {ours / theirs:.2f}x (target: at most 0.5x)")
        print(
            f"torchinfo takes {theirs - imports:.2f} s more than a bare `import torch, timm` ({imports:.2f} s); "
            f"the CLI {ours - imports:+.2f} s (its model process imports them with the collector paused, "
            "while the CLI starts)"
        )
    print(f"CLI / floor (import torch): {ours / floor_wall:.2f}x; CLI / import floor: {ours / imports:.2f}x")
    if not args.no_70b:
        wall, rss = medians["70B decoder CLI"]
        print(
            f"70B decoder, input ids (1, 4096), through the CLI: {wall:.2f} s ({wall / floor_wall:.2f}x the floor), "
            f"peak RSS {rss:.0f} MiB ({rss - floor_rss:+.0f} MiB over the floor's)"
        )
    _cli(*cli_args)  # fills the result cache
    wall, _, _ = _cli(*cli_args)
    print(f"for information: the same command repeated, answered by the result cache: {wall:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
