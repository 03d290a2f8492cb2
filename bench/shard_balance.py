"""How balanced `check --shard K/N` is (issue 32): one run of `check GLOB --store-durations`
measures every model's check, then for N shards the split by stable hash and the split by
those durations are compared. The figure is each split's slowest shard over the ideal
(total / N): 1.00 is perfect balance; a matrix's wall time is its slowest job.

    python bench/shard_balance.py                      # timm:resnet*, N = 2, 3, 4, 8
    python bench/shard_balance.py 'timm:vit_tiny*' --shards 2 4

Durations are measured in the models' own processes (what --store-durations records), so the
ratios hold however loaded the machine is; the split is computed by the same function the
CLI uses (paraminspect.commands.shard.assign). A second measuring run would be the honest
test of the durations split (models' times vary run to run): --rerun does it and scores the
durations split of the first run against the second run's times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paraminspect.commands.shard import assign  # noqa: E402


def measure(glob: str, folder: Path, name: str) -> dict[str, float]:
    path = folder / name
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PARAMINSPECT_CACHE_DIR": str(folder / "cache")}
    args = [sys.executable, "-m", "paraminspect", "check", glob, "--durations", str(path), "--store-durations"]
    proc = subprocess.run([*args, "-f", "json"], cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not path.exists():
        sys.exit(f"check failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(path.read_text())["durations"]


def slowest_over_ideal(specs: list[str], shards: list[int], count: int, seconds: dict[str, float]) -> float:
    totals = [0.0] * count
    for spec, k in zip(specs, shards, strict=True):
        totals[k - 1] += seconds[spec]
    return max(totals) / (sum(totals) / count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("glob", nargs="?", default="timm:resnet*")
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 3, 4, 8])
    parser.add_argument("--rerun", action="store_true", help="score against a second run's times")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shard-balance-") as tmp:
        first = measure(args.glob, Path(tmp), "first.json")
        actual = measure(args.glob, Path(tmp), "second.json") if args.rerun else first
    specs = sorted(first)
    total = sum(actual.values())
    print(f"{args.glob}: {len(specs)} models, {total:.1f} s of checks (in the models' processes)")
    print(f"{'N':>3}  {'by hash':>8}  {'by durations':>12}   (slowest shard / ideal; 1.00 = even)")
    for count in args.shards:
        by_hash = slowest_over_ideal(specs, assign(specs, count), count, actual)
        by_time = slowest_over_ideal(specs, assign(specs, count, first), count, actual)
        print(f"{count:>3}  {by_hash:>8.2f}  {by_time:>12.2f}")


if __name__ == "__main__":
    main()
