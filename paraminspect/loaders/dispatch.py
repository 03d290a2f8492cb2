"""MODEL spec -> LoadedModel: the loader that the spec's form names (paraminspect.forms).

Models are built on the meta device unless told otherwise, so no weight memory is
allocated; a factory that cannot build on meta is rebuilt on CPU with a note. Weights are
never downloaded: timm models get pretrained=False, factory parameters that would fetch
weights default to None, and any network connection attempted while building is refused.
"""

from __future__ import annotations

import importlib
from typing import Any

from paraminspect.errors import UsageError
from paraminspect.forms import parse_spec
from paraminspect.loaders.build import check_device
from paraminspect.loaders.loaded import LoadedModel, LoadRequest


def load(
    spec: str,
    kwargs: dict[str, Any] | None = None,
    device: str | None = None,
    *,
    trust_pickle: bool = False,
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Build the model named by `spec`, or list a checkpoint file (full unpickling only with
    `trust_pickle`). Code shipped with a Hugging Face checkpoint runs only with
    `trust_remote_code`. Raises LoadError/UsageError with a one-line message."""
    parsed = parse_spec(spec)
    if not parsed.text:
        raise UsageError("empty MODEL: give a timm name, pkg.module:attr or path/file.py:attr")
    if device is not None:
        device = check_device(device)
    request = LoadRequest(parsed.text, parsed.form, dict(kwargs or {}), device, trust_pickle, trust_remote_code)
    module_name, _, function = parsed.form.loader.partition(":")
    loaded: LoadedModel = getattr(importlib.import_module(module_name), function)(request)
    return loaded


def load_path(request: LoadRequest) -> LoadedModel:
    """The loader of a path without `:attr` (forms "source-path", "path-without-factory"):
    `show` and `diff` build one model, so a folder or a file needs its factory named. A
    `timm:` name that only looks like a path is a timm name."""
    import os

    from paraminspect.errors import LoadError
    from paraminspect.forms import TIMM_PREFIX

    spec = request.spec
    if os.path.isdir(spec):
        from paraminspect.loaders.hints import not_a_model_folder

        raise LoadError(not_a_model_folder(spec))
    if spec.endswith(".py") or (("/" in spec or os.sep in spec) and not spec.startswith(TIMM_PREFIX)):
        raise LoadError(f"{spec!r}: name the factory too, e.g. {spec}:build")
    from paraminspect.loaders.timm import load_timm

    return load_timm(request)
