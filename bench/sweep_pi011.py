"""Run PI011 over every timm model and every torchvision classification model, built on meta.

Not a test: a one-off sweep for false positives (a correct library model must be clean).
Prints how many models were checked, how many could not be built on meta (those are built on
CPU instead, as `paraminspect check` does), and every PI011 finding.
Usage: python bench/sweep_pi011.py [--limit N] [--only timm|torchvision]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _models(only: str | None, limit: int | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if only in (None, "timm"):
        import timm

        out += [("timm", name) for name in timm.list_models()][:limit]
    if only in (None, "torchvision"):
        import torchvision

        out += [("torchvision", name) for name in torchvision.models.list_models(module=torchvision.models)][:limit]
    return out


def _build(source: str, name: str, device: str):
    import torch

    if source == "timm":
        from paraminspect.loaders.dispatch import load

        return load(f"timm:{name}", device=device).module
    import torchvision

    with torch.device(device):
        return torchvision.models.get_model(name, weights=None)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--only", choices=("timm", "torchvision"), default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from paraminspect.checks import CheckContext
    from paraminspect.checks.module_config import _spec_for, check_shapes
    from paraminspect.tensors.walk import build_inventory

    checked: Counter[str] = Counter()
    on_cpu: Counter[str] = Counter()  # could not be built on meta, checked after a CPU build
    failed: dict[str, list[str]] = {"timm": [], "torchvision": []}
    covered: Counter[str] = Counter()  # module families the rule had a spec for
    findings = []
    start = time.perf_counter()
    for source, name in _models(args.only, args.limit):
        try:
            model = _build(source, name, "meta")
        except Exception as exc:  # a sweep records every failure and goes on
            failed[source].append(f"{name}: {type(exc).__name__}: {str(exc).strip().splitlines()[:1]}")
            try:  # as `paraminspect check` does: fall back to CPU
                model = _build(source, name, "cpu")
            except Exception:
                continue
            on_cpu[source] += 1
        checked[source] += 1
        for _, module in model.named_modules():
            spec = _spec_for(module)
            if spec is not None:
                covered[spec.base] += 1
        for finding in check_shapes(CheckContext(build_inventory(model), model)):
            findings.append((source, name, finding))
        del model  # CPU-built fallbacks can be GBs
    elapsed = time.perf_counter() - start

    for source in ("timm", "torchvision"):
        print(
            f"{source}: checked {checked[source]} (of which built on CPU after meta failed: {on_cpu[source]}), "
            f"failed to build on meta {len(failed[source])}, on neither {len(failed[source]) - on_cpu[source]}"
        )
        for line in failed[source]:
            print(f"  build failed: {line}")
    print("modules covered by PI011 (instances): " + ", ".join(f"{k}={v}" for k, v in covered.most_common()))
    print(f"PI011 findings: {len(findings)}")
    for source, name, f in findings:
        print(f"  {source}:{name} {f.module}.{f.attribute}: {f.message}")
    print(f"elapsed {elapsed:.0f}s")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
