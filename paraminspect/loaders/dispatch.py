"""MODEL spec -> LoadedModel: pick the loader for the spec's form.

Forms: a timm name (`resnet50`, `timm:resnet50`, `vit_base_patch16_224.augreg_in21k`, or a
partial name such as `vit_base`), `pkg.module:attr` and `path/to/file.py:attr` (attr may be
dotted; a factory function, a class or a ready nn.Module instance), checkpoint files, and
Hugging Face models (a folder with config.json, `hf:ORG/NAME`, `transformers:CLASS`).

Models are built on the meta device unless told otherwise, so no weight memory is
allocated; a factory that cannot build on meta is rebuilt on CPU with a note. Weights are
never downloaded: timm models get pretrained=False, factory parameters that would fetch
weights default to None, and any network connection attempted while building is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from paraminspect.errors import LoadError, UsageError
from paraminspect.loaders.build import check_device
from paraminspect.loaders.hf import is_hf_spec
from paraminspect.loaders.model import LoadedModel
from paraminspect.loaders.spec import TIMM_PREFIX, is_checkpoint_spec, split_target


def load(
    spec: str,
    kwargs: dict[str, Any] | None = None,
    device: str | None = None,
    *,
    trust_pickle: bool = False,
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Build the model named by `spec`, or list a checkpoint file (`.safetensors`,
    `*.index.json`, `.pt/.pth/.bin/.ckpt`; full unpickling only with `trust_pickle`).
    Code shipped with a Hugging Face checkpoint runs only with `trust_remote_code`.
    Raises LoadError/UsageError with a one-line message."""
    spec = spec.strip()
    if not spec:
        raise UsageError("empty MODEL: give a timm name, pkg.module:attr or path/file.py:attr")
    kwargs = dict(kwargs or {})
    if device is not None:
        device = check_device(device)
    # a `:` in a checkpoint's own file name (`run:3.pt`) does not make it a factory spec
    if is_checkpoint_spec(spec) and (":" not in Path(spec).name or os.path.lexists(spec)):
        if kwargs:
            raise UsageError(f"{spec} is a checkpoint file: it takes no -a arguments")
        from paraminspect.loaders.checkpoints import load_checkpoint

        return load_checkpoint(spec, trust_pickle=trust_pickle, device=device)
    if is_hf_spec(spec):
        from paraminspect.loaders.hf import load_hf

        return load_hf(spec, kwargs, device, trust_remote_code=trust_remote_code)
    target = split_target(spec)
    if target is None:
        if os.path.isdir(spec):
            from paraminspect.loaders.hints import not_a_model_folder

            raise LoadError(not_a_model_folder(spec))
        if spec.endswith(".py") or (("/" in spec or os.sep in spec) and not spec.startswith(TIMM_PREFIX)):
            raise LoadError(f"{spec!r}: name the factory too, e.g. {spec}:build")
        from paraminspect.loaders.timm import load_timm

        return load_timm(spec, kwargs, device)
    from paraminspect.loaders.factory import load_factory

    return load_factory(spec, *target, kwargs, device)
