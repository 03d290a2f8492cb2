"""What PI013's probe costs: `check` of models that hold non-persistent buffers, with every
rule against `--ignore PI013` (the same check without the probe), in one process per run.

    python bench/meta_init.py [--runs 3]

Each pair runs interleaved in fresh processes (`--no-cache`), and the medians of wall time are
printed with their ratio. The models: timm's (their hooks recompute relative-position indices
in Python, the probe's main cost), transformers' Llama at full size (7B parameters: over the
whole-model limit, so only its non-persistent buffers are allocated) and a tiny one (allocated
whole), and a 50,000-tensor sample with no non-persistent buffer (the probe does nothing).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CASES = {
    "timm swin_tiny_patch4_window7_224": ["timm:swin_tiny_patch4_window7_224"],
    "timm beit_base_patch16_224": ["timm:beit_base_patch16_224"],
    "timm tiny_vit_5m_224": ["timm:tiny_vit_5m_224"],
    "Llama 7B (default config)": ["transformers:LlamaForCausalLM"],
    "Llama tiny (2 layers, 64 wide)": [
        "transformers:LlamaForCausalLM",
        *("-a", "num_hidden_layers=2", "-a", "hidden_size=64", "-a", "intermediate_size=128"),
        *("-a", "num_attention_heads=4", "-a", "num_key_value_heads=2"),
    ],
    "50,000 tensors, no non-persistent buffer": [f"{ROOT}/sample_models/huge.py:build_many"],
}


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([PY, "-m", "paraminspect", "check", *args, "--no-cache"], capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"paraminspect check {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'model':<42} {'all rules':>10} {'--ignore PI013':>15} {'ratio':>6}")
    for label, spec in CASES.items():
        with_probe, without = [], []
        for _ in range(args.runs):
            with_probe.append(wall(spec))
            without.append(wall([*spec, "--ignore", "PI013"]))
        a, b = statistics.median(with_probe), statistics.median(without)
        print(f"{label:<42} {a:>9.2f}s {b:>14.2f}s {a / b:>6.2f}")


if __name__ == "__main__":
    main()
