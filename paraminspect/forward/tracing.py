"""Run one forward (and backward) pass and report what only running shows: PI101-PI105.

Observed with torch's own mechanisms, never by patching the model: a TorchFunctionMode sees
every torch call made from Python (factories, tensor methods, operators) with its tensor
arguments; global forward hooks say which module is running; `vars()` of every module is
compared before and after forward; `.grad` after a backward of the summed outputs says which
parameters got no gradient.

Provenance (PI103, PI105): parameters, buffers and inputs are "bound" to the model's device and
so is everything computed from them; a factory call inside forward makes a "created" tensor
(remembering the call site and whether it named a device); any other tensor that reaches an op
is "foreign" (a global, a closure, a plain attribute) and is reported once, by name when one
can be found. Runs on the meta device when the model is there, with a CPU fallback bounded by a
size limit. Returns plain data; no printing.
"""

from __future__ import annotations

import dataclasses
import os
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from types import FrameType
from typing import Any

import torch
from torch import nn

from paraminspect import sources
from paraminspect.tensors.facts import module_bookkeeping

# Factories whose device is the default device unless `device=` is given.
_FACTORY_NAMES = (
    *("zeros", "ones", "empty", "full", "arange", "range", "linspace", "logspace", "eye", "empty_strided"),
    *("rand", "randn", "randint", "randperm", "normal", "tensor", "as_tensor", "asarray", "scalar_tensor"),
    *("tril_indices", "triu_indices", "bartlett_window", "blackman_window", "hamming_window", "hann_window"),
    "kaiser_window",
)
# Factories that copy their data argument's device when it is a tensor.
_DATA_FACTORIES = ("tensor", "as_tensor", "asarray")
_LIKE_NAMES = ("zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "randint_like")
_FACTORIES: dict[Any, str] = {}
for _name in (*_FACTORY_NAMES, *_LIKE_NAMES):
    _func = getattr(torch, _name, None)
    if _func is not None:
        _FACTORIES[_func] = _name
_LIKE = frozenset(getattr(torch, n) for n in _LIKE_NAMES if hasattr(torch, n))
_DATA = frozenset(getattr(torch, n) for n in _DATA_FACTORIES if hasattr(torch, n))
_INDEXING = (torch.Tensor.__getitem__, torch.Tensor.__setitem__)  # CPU index tensors work on every device
# Random numbers: a tensor made by one of these and turned into a Python value decides control
# flow at random (LayerDrop's `torch.rand(1).item() < p`), so which modules run is not fixed.
_RANDOM_NAMES = ("rand", "randn", "randint", "randperm", "normal", "rand_like", "randn_like", "randint_like")
_RANDOM = frozenset(
    getattr(torch, n) for n in (*_RANDOM_NAMES, "bernoulli", "multinomial", "poisson") if hasattr(torch, n)
)
_RANDOM_INPLACE = frozenset(
    getattr(torch.Tensor, n)
    for n in ("uniform_", "normal_", "bernoulli_", "random_", "exponential_", "geometric_", "cauchy_", "log_normal_")
    if hasattr(torch.Tensor, n)
)
_TO_PYTHON = frozenset(
    getattr(torch.Tensor, n) for n in ("item", "tolist", "__bool__", "__float__", "__int__", "__index__")
)
_MAX_DEPTH = 3
_MAX_NAME_FRAMES = 8


@dataclass(frozen=True)
class Observation:
    """One runtime finding, before severity/select/noqa are applied."""

    code: str
    module: str  # dotted path of the module it belongs to, "" for the root
    attribute: str  # the attribute involved, "" when none (a local, a factory call)
    names: tuple[str, ...]
    message: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class RunReport:
    observations: tuple[Observation, ...]
    device: str  # where the forward ran: meta, cpu, cuda:0
    backward: bool  # whether a backward pass ran (PI101 was checked)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Site:
    file: str | None
    line: int | None
    module: str


@dataclass(frozen=True)
class _Created:
    """A tensor created inside forward with no bound ancestor."""

    func: str  # "torch.zeros"
    site: _Site | None
    reason: str | None  # why it may land on the wrong device; None when its device was given
    random: bool = False  # drawn from a random number generator


_BOUND = "bound"  # from parameters, buffers or inputs
_FOREIGN = "foreign"  # reported by PI105 (or PI104), then left alone
_ESCORTED = "escorted"  # foreign, so far only read through `.to(<the inputs' device>)`: not reported yet


# --- frames ------------------------------------------------------------------------------


def _prefixes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    import paraminspect

    def both(path: str) -> tuple[str, ...]:
        return tuple({os.path.join(path, ""), os.path.join(os.path.realpath(path), "")})

    ours = both(os.path.dirname(torch.__file__)) + both(os.path.dirname(paraminspect.__file__))
    stdlib: tuple[str, ...] = ()
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            stdlib += both(path)
    return ours, stdlib


_OURS, _STDLIB = _prefixes()


@lru_cache(maxsize=4096)
def _is_internal(filename: str) -> bool:
    """torch, paraminspect, the standard library (not its site-packages) and `<frozen ...>` code."""
    if filename.startswith("<") or filename.startswith(_OURS):
        return True
    return filename.startswith(_STDLIB) and "site-packages" not in filename and "dist-packages" not in filename


def _user_frames(frame: FrameType | None) -> Iterator[FrameType]:
    """Frames outside torch, paraminspect and the standard library, innermost first."""
    while frame is not None:
        if not _is_internal(frame.f_code.co_filename):
            yield frame
        frame = frame.f_back


# --- the module tree ------------------------------------------------------------------------


def _tensors_in(value: Any, access: str = "", depth: int = 0) -> Iterator[tuple[str, torch.Tensor]]:
    """(access path, tensor) for tensors held in `value` directly or in containers."""
    if isinstance(value, torch.Tensor):
        yield access, value
        return
    if depth >= _MAX_DEPTH or isinstance(value, (str, bytes, nn.Module)):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _tensors_in(v, f"{access}[{i}]", depth + 1)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _tensors_in(v, f"{access}[{k!r}]", depth + 1)
    elif isinstance(value, (set, frozenset)):
        for i, v in enumerate(value):
            yield from _tensors_in(v, f"{access}{{{i}}}", depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _tensors_in(getattr(value, f.name, None), f"{access}.{f.name}", depth + 1)


def _modules_in(value: Any, depth: int = 0) -> Iterator[nn.Module]:
    """Modules held in `value` directly or in containers and plain objects (as the inventory finds them)."""
    if isinstance(value, nn.Module):
        yield value
        return
    if depth >= _MAX_DEPTH or isinstance(value, (str, bytes, torch.Tensor, type)):
        return
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    elif not callable(value) and hasattr(value, "__dict__") and not sources.is_torch_class(type(value)):
        items = vars(value).values()
    else:
        return
    for v in items:
        yield from _modules_in(v, depth + 1)


class _Index:
    """Names of everything the model holds, by object identity."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root
        self.modules: dict[int, str] = {}
        self.module_objects: dict[str, nn.Module] = {}
        for path, module in root.named_modules(remove_duplicate=False):
            self.modules.setdefault(id(module), path)
            self.module_objects.setdefault(path, module)
        self.params: dict[int, list[str]] = {}
        self.param_objects: dict[int, nn.Parameter] = {}
        for name, p in root.named_parameters(remove_duplicate=False):
            self.params.setdefault(id(p), []).append(name)
            self.param_objects[id(p)] = p
        self.buffers: dict[int, list[str]] = {}
        self.buffer_objects: list[torch.Tensor] = []
        for name, b in root.named_buffers(remove_duplicate=False):
            if id(b) not in self.buffers:
                self.buffer_objects.append(b)
            self.buffers.setdefault(id(b), []).append(name)
        # plain tensor attributes (and class attributes) that forward might read: PI105 names
        self.attributes: dict[int, tuple[str, str, str]] = {}  # id -> (module path, attribute, access)
        for path, module in self.module_objects.items():
            for attr, value in _plain_attributes(module):
                for access, t in _tensors_in(value):
                    self.attributes.setdefault(id(t), (path, attr, access))
            for klass in type(module).__mro__:
                if sources.is_torch_class(klass) or klass is object:
                    continue
                for attr, value in vars(klass).items():
                    for access, t in _tensors_in(value):
                        self.attributes.setdefault(id(t), (path, attr, access))
        self.covered = self._unregistered_module_tensors()

    def _unregistered_module_tensors(self) -> list[torch.Tensor]:
        """Tensors of modules held in Python containers: PI004 reports the attribute that holds
        them (as for the static rules), so reading them in forward is no PI104/PI105 finding."""
        found: list[torch.Tensor] = []
        seen: set[int] = set(self.modules)
        pending = [
            m for module in self.module_objects.values() for _, v in _plain_attributes(module) for m in _modules_in(v)
        ]
        while pending:
            held = pending.pop()
            if id(held) in seen:
                continue
            for module in held.modules():
                if id(module) in seen:
                    continue
                seen.add(id(module))
                found.extend(t for t in (*module._parameters.values(), *module._buffers.values()) if t is not None)
                for _, value in _plain_attributes(module):
                    found.extend(t for _, t in _tensors_in(value))
                    pending.extend(_modules_in(value))
        return found

    def path(self, module: Any) -> str | None:
        return self.modules.get(id(module))

    def snapshot(self) -> dict[str, dict[str, tuple[int, bool]]]:
        """module path -> attribute -> (id of the value, whether it holds tensors)."""
        return {
            path: {attr: (id(v), any(True for _ in _tensors_in(v))) for attr, v in _plain_attributes(module)}
            for path, module in self.module_objects.items()
        }


def _plain_attributes(module: nn.Module) -> Iterator[tuple[str, Any]]:
    for attr, value in vars(module).items():
        if attr not in module_bookkeeping():
            yield attr, value


def _dotted(path: str, attr: str) -> str:
    return f"{path}.{attr}" if path else attr


# --- where things are defined ----------------------------------------------------------------


def _location(loc: sources.SourceLocation | None) -> tuple[str | None, int | None]:
    return (loc.file, loc.line) if loc is not None else (None, None)


def _definition_site(index: _Index, name: str) -> tuple[str | None, int | None]:
    """The user-code line that created a parameter: `self.head = nn.Linear(...)` for
    `head.weight` (torch's own `self.weight = Parameter(...)` says nothing to a user)."""
    parts = name.split(".")
    for k in range(len(parts) - 1, -1, -1):
        owner = index.module_objects.get(".".join(parts[:k]))
        if owner is None:
            continue
        loc = sources.find_assignment(type(owner), parts[k])
        if loc is not None and not _is_internal(loc.file):
            return loc.file, loc.line
    return None, None


# --- the observer ----------------------------------------------------------------------------


def _flat(args: Any, depth: int = 0) -> Iterator[torch.Tensor]:
    if isinstance(args, torch.Tensor):
        yield args
    elif depth < 3 and isinstance(args, (list, tuple)):
        for a in args:
            yield from _flat(a, depth + 1)
    elif depth < 3 and isinstance(args, dict):
        for a in args.values():
            yield from _flat(a, depth + 1)


def _chain_flat(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[torch.Tensor]:
    if args:
        yield from _flat(args)
    if kwargs:
        yield from _flat(kwargs)


def _move_all(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device) if value.device != device else value
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_move_all(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _move_all(v, device) for k, v in value.items()}
    return value


def _is_device_mismatch(exc: BaseException) -> bool:
    text = str(exc)
    return "device" in text and ("expected device" in text or "same device" in text or "Expected all tensors" in text)


def _sets_device(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """`.to(x.device)`, `.to(x)`, `.type_as(x)`, `.cuda()`, `torch.as_tensor(t, device=...)`:
    the result's device was chosen."""
    if func is torch.Tensor.to:
        if kwargs.get("device") is not None:
            return True
        return any(isinstance(a, (torch.device, str, int, torch.Tensor)) for a in args[1:])
    if func in _DATA:
        return kwargs.get("device") is not None
    return func is torch.Tensor.type_as or func is torch.Tensor.cuda


def _parameter_message(name: str | None) -> str:
    what = f"nn.Parameter {name}" if name else "an nn.Parameter"
    return (
        f"forward creates {what}: it is made anew on every call, so the optimizer (built from parameters() "
        "before training) never updates it; create it once in __init__"
    )


def _name_in_frames(t: torch.Tensor, frame: FrameType | None) -> tuple[str, str, str] | None:
    """(kind, name, file) for `t`: ("global", "SCALE", "m.py"), ("closure variable", "table", ...),
    ("local", "w", ...); the nearest user frames first, globals before closures before locals."""
    frames = []
    for f in _user_frames(frame):
        frames.append(f)
        if len(frames) >= _MAX_NAME_FRAMES:
            break
    for f in frames:
        for name, value in f.f_globals.items():
            if value is t:
                return "global", name, _short(f.f_globals.get("__file__"))
    for f in frames:
        local = f.f_locals
        for name in f.f_code.co_freevars:
            if local.get(name) is t:
                return "closure variable", name, _short(f.f_code.co_filename)
    for f in frames:
        for name, value in f.f_locals.items():
            if value is t:
                return "local", name, _short(f.f_code.co_filename)
    return None


def _short(path: str | None) -> str:
    if path is None:
        return "?"
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


# --- one run ---------------------------------------------------------------------------------
