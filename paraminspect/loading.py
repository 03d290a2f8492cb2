"""MODEL spec -> nn.Module.

Forms: a timm name (`resnet50`, `timm:resnet50`, `vit_base_patch16_224.augreg_in21k`, or a
partial name such as `vit_base`), `pkg.module:attr` and `path/to/file.py:attr` (attr may be
dotted; a factory function, a class or a ready nn.Module instance).

Models are built on the meta device unless told otherwise, so no weight memory is
allocated; a factory that cannot build on meta is rebuilt on CPU with a note. Weights are
never downloaded: timm models get pretrained=False, factory parameters that would fetch
weights default to None, and any network connection attempted while building is refused.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paraminspect.errors import LoadError, NetworkBlockedError, UsageError

TIMM_PREFIX = "timm:"
BUILD_DEVICES_HELP = "meta, cpu, cuda or cuda:N"

# Factory parameters that make torchvision/timm-style factories fetch weights. Unless the
# user passes them, they are set to "no weights": paraminspect only needs the architecture.
NO_WEIGHTS_DEFAULTS: dict[str, Any] = {
    "pretrained": False,
    "pretrained_backbone": False,
    "weights": None,
    "weights_backbone": None,
}


@dataclass
class LoadedModel:
    """What a MODEL spec resolved to."""

    spec: str
    resolved: str
    module: Any  # nn.Module; Any so that importing this file stays cheap for type checkers
    build_device: str
    source: str  # "timm", "factory" or "checkpoint"
    notes: list[str] = field(default_factory=list)
    # A checkpoint file listed from its headers: the inventory is prebuilt and module is None.
    inventory: Any = None


# --- network guard ---------------------------------------------------------------------

_guard = threading.local()
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not getattr(_guard, "active", False):
        return
    if event == "socket.getaddrinfo":
        target = f"{args[0]}:{args[1]}"
    elif event == "socket.connect":
        address = args[1]
        if not (isinstance(address, tuple) and len(address) >= 2):
            return  # unix sockets are not downloads
        target = f"{address[0]}:{address[1]}"
    else:
        return
    _guard.attempted = target
    raise NetworkBlockedError(f"network access to {target} refused while building the model")


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Refuse socket connections made by this thread while the block runs."""
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # audit hooks cannot be removed: it stays, gated by _guard
        _hook_installed = True
    _guard.active, _guard.attempted = True, None
    try:
        yield
    finally:
        _guard.active = False


def _network_attempt() -> str | None:
    return getattr(_guard, "attempted", None)


# --- spec parsing ----------------------------------------------------------------------


def parse_factory_args(pairs: list[str] | None) -> dict[str, Any]:
    """`-a key=value` pairs -> kwargs; values are Python literals when they parse, else strings."""
    kwargs: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"bad --arg {pair!r}: expected key=value, e.g. -a depth=4")
        try:
            kwargs[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            kwargs[key] = raw
    return kwargs


def split_target(spec: str) -> tuple[str, str] | None:
    """`left:attr` for factory specs; None for timm names. A Windows drive (`C:\\x.py:f`)
    is kept in the left part."""
    if spec.startswith(TIMM_PREFIX):
        return None
    left, sep, attr = spec.rpartition(":")
    if not sep or not left or len(left) == 1:
        return None
    return left, attr


def is_file_spec(left: str) -> bool:
    return left.endswith(".py") or "/" in left or os.sep in left


# --- timm names ------------------------------------------------------------------------


@dataclass(frozen=True)
class TimmResolution:
    name: str
    matched: int  # how many registered names the query matched (1 for an exact name)
    tag: str | None


def _rank_partial(query: str, candidates: list[str], tag_counts: dict[str, int]) -> list[str]:
    """The documented pick for a partial name: fewest `_`-separated words beyond the
    query, then most pretrained weight tags in timm's registry (the popular variant), then
    the shortest name, then alphabetical. `vit_base` -> vit_base_patch16_224."""

    def extra_words(name: str) -> int:
        rest = name[len(query) :] if name.startswith(query) else name
        return len([w for w in rest.split("_") if w])

    return sorted(candidates, key=lambda n: (extra_words(n), -tag_counts.get(n, 0), len(n), n))


def resolve_timm_name(query: str) -> TimmResolution:
    """Exact name (tag ignored), else the documented pick among prefix matches, then among
    substring matches; nothing matched raises LoadError with up to 5 close names."""
    import timm

    base, _, tag = query.partition(".")
    names = timm.list_models()
    if base in set(names):
        return TimmResolution(base, 1, tag or None)
    tag_counts: dict[str, int] = {}
    for pretrained in timm.list_pretrained():
        arch = pretrained.partition(".")[0]
        tag_counts[arch] = tag_counts.get(arch, 0) + 1
    for matches in ([n for n in names if n.startswith(base)], [n for n in names if base in n]):
        if matches:
            best = _rank_partial(base, matches, tag_counts)[0]
            return TimmResolution(best, len(matches), tag or None)
    close = difflib.get_close_matches(base, names, n=5, cutoff=0.6)
    hint = (
        f"; did you mean: {', '.join(close)}?"
        if close
        else "; `timm:NAME` names a timm model, `pkg.mod:attr` or `file.py:attr` a factory"
    )
    raise LoadError(f"no timm model matches {query!r}{hint}")


# --- factory import ----------------------------------------------------------------------


def _import_file(path_text: str) -> Any:
    path = Path(path_text).expanduser()
    if not path.exists():
        raise LoadError(f"no such file: {path_text}")
    if path.is_dir():
        raise LoadError(f"{path_text} is a directory, expected a Python file")
    path = path.resolve()
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
        raise LoadError(f"cannot import {path_text}: {_one_line(exc)}") from exc
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
        raise LoadError(f"cannot import module {dotted!r}: {_one_line(exc)}") from exc


def _resolve_attr(module: Any, attr: str, where: str) -> Any:
    obj, owner = module, where
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            close = difflib.get_close_matches(part, [n for n in dir(obj) if not n.startswith("_")], n=3, cutoff=0.6)
            hint = f"; did you mean: {', '.join(close)}?" if close else ""
            raise LoadError(f"{owner} has no attribute {part!r}{hint}") from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise LoadError(f"reading {owner}.{part} raised {_one_line(exc)}") from exc
        owner = f"{owner}.{part}" if owner != where else f"{where}:{part}"
    return obj


def _describe(target: Any) -> str:
    return getattr(target, "__qualname__", None) or type(target).__name__


def _missing_arguments(target: Callable[..., Any], kwargs: dict[str, Any]) -> list[str] | None:
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


# --- building ----------------------------------------------------------------------------


def _check_device(device: str) -> str:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"unknown --device {device!r}: use {BUILD_DEVICES_HELP}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LoadError(f"--device {device}: CUDA is not available on this machine")
    if dev.type not in ("meta", "cpu", "cuda"):
        raise UsageError(f"unknown --device {device!r}: use {BUILD_DEVICES_HELP}")
    return str(dev)


def _network_message(what: str) -> str:
    return (
        f"{what} tried to download weights ({_network_attempt()}); paraminspect never downloads: "
        "pass -a pretrained=False, -a weights=None or -a weights_backbone=None"
    )


def _call_on(device: str, build: Callable[[], Any]) -> Any:
    import torch

    from paraminspect.fastmeta import skip_meta_init

    # On meta, initialisers are no-ops (values are meaningless there, and some import torch._dynamo).
    skip_init = skip_meta_init() if torch.device(device).type == "meta" else contextlib.nullcontext()
    with no_network(), torch.device(device), skip_init:
        return build()


def _build(what: str, build: Callable[[], Any], device: str | None, notes: list[str]) -> tuple[Any, str]:
    """Run `build` on `device`, or on meta with a CPU fallback when no device is forced."""
    if device is not None:
        try:
            return _call_on(device, build), device
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise _build_error(what, exc) from exc
    try:
        return _call_on("meta", build), "meta"
    except KeyboardInterrupt:
        raise
    except BaseException as meta_exc:
        if _network_attempt():
            raise LoadError(_network_message(what)) from meta_exc
        reason = _one_line(meta_exc)
    try:
        module = _call_on("cpu", build)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise _build_error(what, exc) from exc
    notes.append(f"{what} cannot be built on the meta device ({reason}); built on CPU instead")
    return module, "cpu"


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit (it called sys.exit({exc.code!r}))"
    text = first_sentence(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def first_sentence(text: str) -> str:
    """The first line of an error message, cut after its first sentence when long (torch's
    dispatcher errors run on for a screenful)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if len(line) > 160 and ". " in line:
        line = line.split(". ", 1)[0]
    return line


def _build_error(what: str, exc: BaseException) -> LoadError:
    if _network_attempt():
        return LoadError(_network_message(what))
    return LoadError(f"{what} raised {_one_line(exc)}")


def _load_timm(spec: str, kwargs: dict[str, Any], device: str | None) -> LoadedModel:
    query = spec.removeprefix(TIMM_PREFIX)
    resolution = resolve_timm_name(query)
    notes = []
    if resolution.matched > 1:
        notes.append(f"{query!r} matched {resolution.matched} timm models; using {resolution.name}")
    import timm

    def build() -> Any:
        return timm.create_model(resolution.name, pretrained=False, **kwargs)

    module, built_on = _build(f"timm model {resolution.name}", build, device, notes)
    return LoadedModel(spec, f"timm:{resolution.name}", module, built_on, "timm", notes)


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
    raise LoadError(f"{what} returned {_a(type(obj).__name__)}, not an nn.Module{hint}")


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def import_target(left: str, attr: str) -> Any:
    """The object `left:attr` names (`pkg.mod` or `path/file.py`, attr possibly dotted)."""
    module = _import_file(left) if is_file_spec(left) else _import_module(left)
    return _resolve_attr(module, attr, left)


def _load_factory(spec: str, left: str, attr: str, kwargs: dict[str, Any], device: str | None) -> LoadedModel:
    if not attr:
        raise LoadError(f"{spec!r}: missing the attribute after ':' (e.g. {left}:build)")
    target = import_target(left, attr)
    notes: list[str] = []
    from torch import nn

    if isinstance(target, nn.Module):
        if kwargs:
            raise UsageError(f"{spec} is a module instance: it takes no -a arguments")
        built_on = _device_of(target)
        if device is not None and device != built_on:
            target = target.to(device)
            built_on = device
        return LoadedModel(spec, spec, target, built_on, "factory", notes)
    if not callable(target):
        raise LoadError(f"{spec} is {_a(type(target).__name__)}, not an nn.Module, a class or a factory")
    what = f"{'class' if isinstance(target, type) else 'factory'} {_describe(target)}"
    missing = _missing_arguments(target, kwargs)
    if missing:
        example = " ".join(f"-a {m}=VALUE" for m in missing)
        raise LoadError(f"{what} needs argument{'s' if len(missing) > 1 else ''} {', '.join(missing)}: pass {example}")
    defaults = _no_weights_kwargs(target, kwargs)
    if defaults:
        notes.append("building without weights: " + ", ".join(f"{k}={v}" for k, v in defaults.items()))
        kwargs = {**kwargs, **defaults}
    built, built_on = _build(what, lambda: target(**kwargs), device, notes)
    return LoadedModel(spec, spec, _as_module(what, built), built_on, "factory", notes)


def _device_of(module: Any) -> str:
    for t in module.parameters():
        return str(t.device)
    for t in module.buffers():
        return str(t.device)
    return "cpu"


def load(
    spec: str, kwargs: dict[str, Any] | None = None, device: str | None = None, *, trust_pickle: bool = False
) -> LoadedModel:
    """Build the model named by `spec`, or list a checkpoint file (`.safetensors`,
    `*.index.json`, `.pt/.pth/.bin/.ckpt`; full unpickling only with `trust_pickle`).
    Raises LoadError/UsageError with a one-line message."""
    spec = spec.strip()
    if not spec:
        raise UsageError("empty MODEL: give a timm name, pkg.module:attr or path/file.py:attr")
    kwargs = dict(kwargs or {})
    if device is not None:
        device = _check_device(device)
    from paraminspect.checkpoints import is_checkpoint_spec, load_checkpoint

    if is_checkpoint_spec(spec) and ":" not in Path(spec).name:
        if kwargs:
            raise UsageError(f"{spec} is a checkpoint file: it takes no -a arguments")
        return load_checkpoint(spec, trust_pickle=trust_pickle, device=device)
    target = split_target(spec)
    if target is None:
        if spec.endswith(".py") or (("/" in spec or os.sep in spec) and not spec.startswith(TIMM_PREFIX)):
            raise LoadError(f"{spec!r}: name the factory too, e.g. {spec}:build")
        return _load_timm(spec, kwargs, device)
    return _load_factory(spec, *target, kwargs, device)
