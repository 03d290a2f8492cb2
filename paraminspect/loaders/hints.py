"""Hints for a MODEL that names nothing: where a builder of that name lives. Cheap and
import-free: torchvision's builders are found by reading its source files, not by importing
it (`show mobilenet_v2` runs in a process that has imported timm, not torchvision)."""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

# torchvision.models' subpackages, in the order their builders are suggested.
_TORCHVISION_SUBPACKAGES = ("detection", "segmentation", "video", "optical_flow", "quantization")


@lru_cache(maxsize=1)
def _torchvision_models_dir() -> Path | None:
    try:
        found = importlib.util.find_spec("torchvision")
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    folder = Path(next(iter(found.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


def torchvision_builder(name: str) -> str | None:
    """`torchvision.models:NAME` (or `torchvision.models.detection:NAME`, ...) when
    torchvision is installed and defines a public builder function of that name."""
    if not name.isidentifier() or name.startswith("_"):
        return None
    folder = _torchvision_models_dir()
    if folder is None:
        return None
    pattern = re.compile(rf"^def {re.escape(name)}\(", re.MULTILINE)
    places = [("torchvision.models", folder)]
    places += [(f"torchvision.models.{sub}", folder / sub) for sub in _TORCHVISION_SUBPACKAGES]
    for module, where in places:
        for source in sorted(where.glob("*.py")):
            if source.name.startswith("_"):
                continue
            try:
                text = source.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if pattern.search(text):
                return f"{module}:{name}"
    return None


def not_a_model_folder(spec: str) -> str:
    """The error for a folder given as MODEL to show/diff: what a MODEL can be."""
    return (
        f"{spec!r} is a folder without a config.json: a MODEL is a timm name, pkg.module:attr, "
        "path/file.py:attr, a checkpoint file, a Hugging Face folder (with config.json) or a "
        "torch.distributed.checkpoint folder (with .metadata); "
        f"`paraminspect check {spec}` checks the nn.Module classes defined there"
    )
