"""Truth on real libraries: build every model a library offers, as `paraminspect check` does (meta,
CPU when meta fails), and compare paraminspect's totals with what torch itself reports.

Not a test: a sweep for wrong totals, crashes and findings in code no one here wrote (issues 17, 28).
For each model: parameters (elements, tied counted once) against `model.parameters()`, buffers
against `model.buffers()`, and every tensor `state_dict()` holds (packed tuples unpacked) against
the records' names; then the static rules' findings, printed with file:line. Models that need
arguments get them from a small table of conventional values matched by parameter name.
Libraries missing from the environment are skipped.

    python bench/sweep_truth.py torchvision kornia monai torch_geometric [--limit N] [--findings]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# conventional small values for constructor parameters, by name (only those a class asks for)
FILLERS: dict[str, Any] = {
    "spatial_dims": 2,
    "dimensions": 2,
    "in_channels": 3,
    "out_channels": 4,
    "hidden_channels": 8,
    "num_layers": 2,
    "channels": (4, 8, 16),
    "strides": (2, 2),
    "img_size": (32, 32),
    "image_size": 32,
    "patch_size": (8, 8),
    "num_classes": 3,
    "features": (4, 4, 8, 16, 32, 4),
    "size": (8, 8),
    "kernel_size": 3,
    "sigma": (1.0, 1.0),
    "degrees": 10.0,
    "mean": (0.5, 0.5, 0.5),
    "std": (0.2, 0.2, 0.2),
    "num_nodes": 10,
    "heads": 2,
    "hidden_size": 32,
    "num_heads": 2,
    "mlp_dim": 64,
    "dim": 16,
    "embed_dim": 16,
    "num_res_units": 1,
    "scale_factor": 2.0,
    "p": 0.5,
    "nin": 3,
    "nout": 4,
}


def _library_classes(package: str, modules: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    import torch.nn as nn

    seen: set[type] = set()
    for name in modules:
        try:
            module = importlib.import_module(f"{package}.{name}" if name else package)
        except Exception:
            continue
        for attr, cls in sorted(vars(module).items()):
            if not (isinstance(cls, type) and issubclass(cls, nn.Module)) or attr.startswith("_") or cls in seen:
                continue
            if not (cls.__module__ or "").startswith(package) or inspect.isabstract(cls):
                continue
            seen.add(cls)
            try:
                params = inspect.signature(cls).parameters.values()
            except (TypeError, ValueError):
                continue
            kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            required = [p.name for p in params if p.default is p.empty and p.kind in kinds]
            if any(r not in FILLERS for r in required):
                continue
            yield f"{module.__name__}:{attr}", {r: FILLERS[r] for r in required}


def models(library: str) -> list[tuple[str, dict[str, Any]]]:
    if library == "torchvision":
        import torchvision.models as tvm

        out = []
        families = (("", False), ("detection", True), ("segmentation", True), ("video", False), ("optical_flow", False))
        for family, backbone in families:
            where = getattr(tvm, family) if family else tvm
            for name in tvm.list_models(module=where):
                kwargs: dict[str, Any] = {"name": name, "weights": None}
                if backbone:
                    kwargs["weights_backbone"] = None
                out.append(("torchvision.models:get_model", kwargs))
        return out
    if library == "kornia":
        return list(_library_classes("kornia", ["augmentation", "filters", "enhance", "color", "feature", "contrib"]))
    if library == "monai":
        return list(_library_classes("monai", ["networks.nets", "networks.blocks", "networks.schedulers"]))
    if library == "torch_geometric":
        return list(_library_classes("torch_geometric", ["nn.models", "nn.conv", "nn.norm", "nn.pool"]))
    raise SystemExit(f"unknown library {library!r}")


def _state_dict_tensors(value: Any, name: str) -> Iterator[tuple[str, Any]]:
    import torch

    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _state_dict_tensors(item, f"{name}[{i}]")


def truth(module: Any, inv: Any) -> list[str]:
    """What differs between the inventory and torch's own accounting ([] when all agree)."""
    problems = []
    params = sum(p.numel() for p in module.parameters())
    if inv.totals.parameters != params:
        problems.append(f"parameters {inv.totals.parameters} != {params}")
    buffers = sum(b.numel() for b in module.buffers())
    if inv.totals.buffers != buffers:
        problems.append(f"buffers {inv.totals.buffers} != {buffers}")
    names = {n for r in inv.tensors for n in (r.name, *r.aliases)}
    state = module.state_dict(keep_vars=True)
    missing = [k for key, v in state.items() for k, _ in _state_dict_tensors(v, key) if k not in names]
    if missing:
        problems.append(f"{len(missing)} state_dict tensors not listed: {missing[:4]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("libraries", nargs="+")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--findings", action="store_true", help="print every finding (else counts)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from paraminspect.checks.engine import StaticContext, run_static_checks
    from paraminspect.errors import ParamInspectError
    from paraminspect.loaders.dispatch import load
    from paraminspect.tensors.walk import build_inventory
    from paraminspect.tensors.wrappers import unwrap

    for library in args.libraries:
        try:
            importlib.import_module(library)
        except ImportError:
            print(f"{library}: not installed, skipped")
            continue
        todo = models(library)[: args.limit]
        built = on_cpu = not_built = exact = 0
        codes: Counter[str] = Counter()
        start = time.perf_counter()
        for spec, kwargs in todo:
            label = kwargs.get("name") or spec
            try:
                loaded = load(spec, dict(kwargs), None)
            except ParamInspectError as exc:
                not_built += 1
                print(f"  not built: {label}: {str(exc)[:160]}")
                continue
            built += 1
            on_cpu += loaded.build_device == "cpu"
            module, _ = unwrap(loaded.module)
            inv = build_inventory(module)
            try:
                problems = truth(module, inv)
            except Exception as exc:  # torch itself cannot count it (lazy, never initialised)
                problems = [f"torch raised {type(exc).__name__}: {str(exc)[:100]}"]
            if problems:
                print(f"  TOTALS DIFFER {label}: {'; '.join(problems)}")
            else:
                exact += 1
            found = run_static_checks(StaticContext(inv, model=module, spec=spec, build_device=loaded.build_device))
            for f in found:
                if f.severity == "info":
                    continue
                codes[f.code] += 1
                if args.findings:
                    print(f"  {label}: {f.code} {f.module or '<root>'}.{f.attribute} at {f.file}:{f.line}")
        took = time.perf_counter() - start
        print(
            f"{library}: {len(todo)} models, {built} built ({on_cpu} on CPU), {not_built} not built, "
            f"{exact} with exact totals; findings (no info): {dict(sorted(codes.items()))}; {took:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
