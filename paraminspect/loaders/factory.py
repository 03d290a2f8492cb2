"""`pkg.module:attr` and `path/file.py:attr`: import the target, call it with `-a` kwargs
(weight-fetching parameters default to "no weights"), and check that a module came back."""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import stat
import sys
import types
from collections.abc import Callable
from typing import Any

from paraminspect.errors import LoadError, UsageError, exception_line
from paraminspect.forms import is_file_spec, split_target
from paraminspect.loaders.build import build_on
from paraminspect.loaders.loaded import LoadedModel, LoadRequest, a_noun, device_of, file_mode
from paraminspect.loaders.packages import import_in_package

# Factory parameters that make torchvision/timm-style factories fetch weights. Unless the
# user passes them, they are set to "no weights": paraminspect only needs the architecture.
NO_WEIGHTS_DEFAULTS: dict[str, Any] = {
    "pretrained": False,
    "pretrained_backbone": False,
    "weights": None,
    "weights_backbone": None,
    "encoder_weights": None,  # segmentation_models_pytorch
}
# Parameter names that look like a source of weights (`encoder_weights`, `pretrained_path`,
# `ckpt_url`): what the network error advises setting, read from the factory's signature.
_WEIGHT_SOURCE = re.compile(r"pretrain|weights|ckpt|checkpoint|download|(^|_)(url|hub|from_pretrained)($|_)", re.I)


def weight_arguments(target: Callable[..., Any]) -> list[str] | None:
    """`-a NAME=VALUE` texts that would switch off the factory's weight sources (False for a
    boolean parameter, else None); None when its signature cannot be read."""
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return None
    found = []
    for name, p in parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or not _WEIGHT_SOURCE.search(name):
            continue
        found.append(f"{name}={False if isinstance(p.default, bool) else None}")
    return found


def _import_file(path_text: str) -> Any:
    path, mode = file_mode(path_text)
    if stat.S_ISDIR(mode):
        raise LoadError(f"{path_text} is a directory, expected a Python file")
    if not stat.S_ISREG(mode):  # a FIFO or a device would block the import forever
        raise LoadError(f"{path_text} is not a regular file (a FIFO, socket or device?), expected a Python file")
    path = path.resolve()
    in_package = import_in_package(path, path_text)  # `from .common import Block` works
    if in_package is not None:
        return in_package
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    name = f"_paraminspect_user.{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    # sibling imports (`from layers import Block`) work as they do with `python file.py`
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import {path_text}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: dataclasses and source lookups need it
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise LoadError(f"cannot import {path_text}: SyntaxError: {exc.msg} (line {exc.lineno})") from exc
    except KeyboardInterrupt:
        sys.modules.pop(name, None)
        raise
    except BaseException as exc:  # SystemExit too: a file that calls sys.exit() is an error, not an exit
        sys.modules.pop(name, None)
        raise LoadError(f"cannot import {path_text}: {exception_line(exc)}") from exc
    return module


def _import_module(dotted: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path:  # console scripts do not put the working directory on sys.path
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        if exc.name and (dotted == exc.name or dotted.startswith(exc.name + ".")):
            raise LoadError(f"cannot import module {dotted!r}: no module named {exc.name!r}") from exc
        raise LoadError(f"cannot import module {dotted!r}: ModuleNotFoundError: {exc}") from exc
    except SyntaxError as exc:
        raise LoadError(
            f"cannot import module {dotted!r}: SyntaxError: {exc.msg} ({exc.filename}:{exc.lineno})"
        ) from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too
        raise LoadError(f"cannot import module {dotted!r}: {exception_line(exc)}") from exc


def _missing_attribute_hint(obj: Any, part: str, owner: str) -> str:
    """Where a missing attribute is: a submodule the package has imported already that
    defines it (`torchvision:resnet18` -> torchvision.models:resnet18), else close names."""
    if isinstance(obj, types.ModuleType) and ":" not in owner:
        for name, value in sorted(vars(obj).items()):
            if (
                isinstance(value, types.ModuleType)
                and not name.startswith("_")
                and value.__name__ == f"{obj.__name__}.{name}"
                and callable(getattr(value, part, None))
            ):
                return f"; it is {value.__name__}:{part}"
    close = difflib.get_close_matches(part, [n for n in dir(obj) if not n.startswith("_")], n=3, cutoff=0.6)
    return f"; did you mean: {', '.join(close)}?" if close else ""


def _resolve_attr(module: Any, attr: str, where: str) -> Any:
    obj, owner = module, where
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            hint = _missing_attribute_hint(obj, part, owner)
            raise LoadError(f"{owner} has no attribute {part!r}{hint}") from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise LoadError(f"reading {owner}.{part} raised {exception_line(exc)}") from exc
        owner = f"{owner}.{part}" if owner != where else f"{where}:{part}"
    return obj


def _describe(target: Any) -> str:
    return getattr(target, "__qualname__", None) or type(target).__name__


def missing_arguments(target: Callable[..., Any], kwargs: dict[str, Any]) -> list[str] | None:
    """The required parameters of `target` that `kwargs` does not give ([] when it binds;
    None when the signature cannot be read)."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(**kwargs)
    except TypeError:
        return [
            name
            for name, p in signature.parameters.items()
            if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and name not in kwargs
        ]
    return []


def _no_weights_kwargs(target: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Weight-fetching parameters the user left at a default that would download."""
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return {}
    extra = {}
    for name, value in NO_WEIGHTS_DEFAULTS.items():
        p = parameters.get(name)
        if p is not None and name not in kwargs and p.default is not p.empty and p.default not in (None, False):
            extra[name] = value
    return extra


def _as_module(what: str, obj: Any) -> Any:
    from torch import nn

    if isinstance(obj, nn.Module):
        return obj
    if obj is None:
        raise LoadError(f"{what} returned None, not an nn.Module (a missing `return`?)")
    hint = ""
    values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (tuple, list)) else ()
    if any(isinstance(x, nn.Module) for x in values):
        hint = " (it holds one: point MODEL at a factory that returns just the module)"
    raise LoadError(f"{what} returned {a_noun(type(obj).__name__)}, not an nn.Module{hint}")


def import_target(left: str, attr: str) -> Any:
    """The object `left:attr` names (`pkg.mod` or `path/file.py`, attr possibly dotted)."""
    module = _import_file(left) if is_file_spec(left) else _import_module(left)
    return _resolve_attr(module, attr, left)


def load_factory(request: LoadRequest) -> LoadedModel:
    """`pkg.module:attr` or `path/to/file.py:attr` (attr may be dotted): a factory function, a
    class or a ready nn.Module instance."""
    spec, kwargs, device = request.spec, request.kwargs, request.device
    left, attr = split_target(spec) or (spec, "")
    if not attr:
        raise LoadError(f"{spec!r}: missing the attribute after ':' (e.g. {left}:build)")
    target = import_target(left, attr)
    notes: list[str] = []
    from torch import nn

    if isinstance(target, nn.Module):
        if kwargs:
            raise UsageError(f"{spec} is a module instance: it takes no -a arguments")
        built_on = device_of(target)
        if device is not None and device != built_on:
            target = target.to(device)
            built_on = device
        return LoadedModel(spec, spec, target, built_on, "factory", notes)
    if not callable(target):
        raise LoadError(f"{spec} is {a_noun(type(target).__name__)}, not an nn.Module, a class or a factory")
    what = f"{'class' if isinstance(target, type) else 'factory'} {_describe(target)}"
    missing = missing_arguments(target, kwargs)
    if missing:
        example = " ".join(f"-a {m}=VALUE" for m in missing)
        raise LoadError(f"{what} needs argument{'s' if len(missing) > 1 else ''} {', '.join(missing)}: pass {example}")
    defaults = _no_weights_kwargs(target, kwargs)
    if defaults:
        notes.append("building without weights: " + ", ".join(f"{k}={v}" for k, v in defaults.items()))
        kwargs = {**kwargs, **defaults}
    failures: list[Any] = []
    built, built_on = build_on(what, lambda: target(**kwargs), device, notes, weight_arguments(target), failures)
    module = _as_module(what, built)
    return LoadedModel(spec, spec, module, built_on, "factory", notes, meta_failure=failures[0] if failures else None)


def import_file(path_text: str) -> Any:
    """The module of a `.py` file: imported as part of its package when it is in one
    (package-relative imports work), else on its own with its folder on sys.path."""
    return _import_file(path_text)
