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
import sys
import sysconfig
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import FrameType
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from paraminspect import sources
from paraminspect.checks.model import Finding
from paraminspect.errors import UsageError
from paraminspect.examples import (
    MAX_CPU_BYTES_ENV,
    Example,
    RunOptions,
    format_size,
    max_cpu_bytes,
    resolve_example,
)
from paraminspect.inventory import module_bookkeeping

__all__ = ["Observation", "RunReport", "check_run", "run_model"]

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


_BOUND = "bound"  # from parameters, buffers or inputs
_FOREIGN = "foreign"  # reported by PI105 (or PI104), then left alone


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
    """`.to(x.device)`, `.to(x)`, `.type_as(x)`, `.cuda()`: the result's device was chosen."""
    if func is torch.Tensor.to:
        if kwargs.get("device") is not None:
            return True
        return any(isinstance(a, (torch.device, str, int, torch.Tensor)) for a in args[1:])
    return func is torch.Tensor.type_as or func is torch.Tensor.cuda


class _Observer(TorchFunctionMode):
    def __init__(self, index: _Index, device: torch.device) -> None:
        super().__init__()
        self.index = index
        self.device = device
        self.labels: dict[int, object] = {}
        self.keep: list[torch.Tensor] = []  # strong references: ids stay unique during the run
        self.module_stack: list[nn.Module] = []
        self.observations: list[Observation] = []
        self.reported: set[object] = set()
        self.parameter_reports: dict[int, Observation] = {}
        for p in index.param_objects.values():
            self._label(p, _BOUND)
        for b in index.buffer_objects:
            self._label(b, _BOUND)

    def _label(self, t: torch.Tensor, label: object) -> None:
        if id(t) not in self.labels:
            self.keep.append(t)
        self.labels[id(t)] = label

    def bind_inputs(self, args: Any, kwargs: Any) -> None:
        for value in (args, kwargs):
            for _, t in _tensors_in(value):
                self._label(t, _BOUND)

    # which module and which line

    def _site(self) -> _Site:
        frame = next(_user_frames(sys._getframe(2)), None)
        module = self._current_module(frame)
        if frame is None:
            return _Site(None, None, module)
        return _Site(frame.f_code.co_filename, frame.f_lineno, module)

    def _current_module(self, frame: FrameType | None) -> str:
        if frame is not None:
            owner = frame.f_locals.get("self")
            path = self.index.path(owner) if isinstance(owner, nn.Module) else None
            if path is not None:
                return path
        for module in reversed(self.module_stack):
            path = self.index.path(module)
            if path is not None:
                return path
        return ""

    # the hook into every torch call

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        bound = False
        created: _Created | None = None
        tainted: _Created | None = None
        # a CPU index tensor works with tensors on any device: not a PI103
        index_ids = {id(t) for t in _flat(args[1])} if func in _INDEXING and len(args) > 1 else set()
        for t in _chain_flat(args, kwargs):
            label = self.labels.get(id(t))
            if label is None:
                label = self._unknown(t)
            if label is _BOUND:
                bound = True
            elif isinstance(label, _Created):
                created = created or label
                if label.reason is not None and tainted is None and id(t) not in index_ids:
                    tainted = label
        if tainted is not None and bound:
            self._report_device(tainted)

        out = self._call(func, args, kwargs)

        result: object
        factory = _FACTORIES.get(func)
        if factory is not None and not (func in _DATA and args and any(True for _ in _flat(args[0]))):
            result = self._created(func, factory, kwargs, out)
        elif bound:
            result = _BOUND
        elif created is not None:
            if created.reason is not None and _sets_device(func, args, kwargs):
                created = dataclasses.replace(created, reason=None)
            result = created
        else:
            result = _Created(getattr(func, "__name__", "op"), None, None)
        for t in _flat(out):
            if id(t) not in self.labels or (result is _BOUND and self.labels[id(t)] is not _FOREIGN):
                self._label(t, result)
        return out

    def _call(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return func(*args, **kwargs)
        except RuntimeError as exc:
            # a CPU tensor met a meta/cuda one: already reported (PI103/PI105); move it and go on
            if self.device.type == "cpu" or not _is_device_mismatch(exc):
                raise
        return func(*_move_all(args, self.device), **_move_all(kwargs, self.device))

    def _created(self, func: Any, name: str, kwargs: dict[str, Any], out: Any) -> _Created:
        device = kwargs.get("device")
        reason: str | None = None
        if device is None:
            if func not in _LIKE:
                reason = "no device argument"
        else:
            made_on = out.device if isinstance(out, torch.Tensor) else self.device
            if made_on.type != self.device.type:
                reason = f"device={str(device)!r} while the inputs are on {self.device}"
        if reason is not None and isinstance(out, torch.Tensor) and out.dim() == 0:
            reason = None  # a 0-dim CPU tensor mixes with tensors on any device
        return _Created(f"torch.{name}", self._site(), reason)

    def _report_device(self, created: _Created) -> None:
        site = created.site
        key = ("PI103", site)
        if key in self.reported:
            return
        self.reported.add(key)
        use = self._site()
        where = f" at {_short(use.file)}:{use.line}" if use.file and use != site else ""
        fix = "device=x.device (the input's device)" if created.reason == "no device argument" else "the inputs' device"
        self.observations.append(
            Observation(
                "PI103",
                site.module if site else "",
                "",
                (created.func,),
                f"{created.func}(...) in forward has {created.reason} and its result is combined with the inputs"
                f"{where}: it works on CPU and fails on GPU; pass {fix}",
                site.file if site else None,
                site.line if site else None,
            )
        )

    def _unknown(self, t: torch.Tensor) -> object:
        """A tensor no op produced and the model does not hold as a parameter or buffer."""
        if isinstance(t, nn.Parameter):
            self._report_parameter(t)
            self._label(t, _BOUND)
            return _BOUND
        base = t._base
        label = self.labels.get(id(base)) if base is not None else None
        if label is None and t.grad_fn is not None:
            label = _BOUND  # computed from tracked tensors by a path the mode cannot see
        if label is None:
            label = self._shared_storage(t)
        if label is not None:
            self._label(t, label)
            return label
        self._report_foreign(t)
        self._label(t, _FOREIGN)
        return _FOREIGN

    def _shared_storage(self, t: torch.Tensor) -> object | None:
        try:
            storage = t.untyped_storage()._cdata
        except Exception:  # sparse, nested or otherwise storage-less tensors
            return None
        for other in self.keep:
            try:
                if other.untyped_storage()._cdata == storage:
                    return self.labels[id(other)]
            except Exception:
                continue
        return None

    def _report_parameter(self, p: nn.Parameter) -> None:
        """PI104, seen at its first use; a Parameter assigned to `self` is named after forward."""
        site: _Site | None = None
        try:
            storage = p.untyped_storage()._cdata
            for other in self.keep:
                label = self.labels[id(other)]
                if isinstance(label, _Created) and label.site and other.untyped_storage()._cdata == storage:
                    site = label.site  # `nn.Parameter(torch.randn(...))`: where its data was made
                    break
        except Exception:
            pass
        use = self._site()
        site = site or use
        frame = next(_user_frames(sys._getframe(2)), None)
        name = _name_in_frames(p, frame)
        observation = Observation(
            "PI104",
            site.module,
            "",
            (name[1],) if name else (),
            _parameter_message(name[1] if name else None),
            site.file,
            site.line,
        )
        self.parameter_reports[id(p)] = observation
        self.observations.append(observation)

    def _report_foreign(self, t: torch.Tensor) -> None:
        use = self._site()
        held = self.index.attributes.get(id(t))
        if held is not None:
            path, attr, access = held
            key = ("PI105", path, attr)
            if key in self.reported:
                return
            self.reported.add(key)
            full = _dotted(path, attr) + access
            cls = type(self.index.module_objects[path])
            kind = "class attribute" if attr not in vars(self.index.module_objects[path]) else "plain attribute"
            self.observations.append(
                Observation(
                    "PI105",
                    path,
                    attr,
                    (full,),
                    f"forward reads tensor {full}, a {kind} of {cls.__name__} that is not a parameter, buffer "
                    f"or input: it is not moved by .to() nor saved; register_buffer({attr!r}, ...) "
                    "(persistent=False if it is derived data) or nn.Parameter",
                    use.file,
                    use.line,
                )
            )
            return
        frame = next(_user_frames(sys._getframe(2)), None)
        found = _name_in_frames(t, frame)
        if found is not None:
            kind, name, file = found
            key = ("PI105", kind, name)
            what = f"{kind} {name} ({file})" if kind == "global" else f"{kind} {name}"
        else:
            key = ("PI105", use.file, use.line)
            what = "a tensor of unknown origin"
        if key in self.reported:
            return
        self.reported.add(key)
        self.observations.append(
            Observation(
                "PI105",
                use.module,
                "",
                (found[1],) if found else (),
                f"forward reads {what}, which is not a parameter, buffer or input nor computed from them: "
                "it does not follow .to() and is not saved; register it as a buffer (or pass it as an input)",
                use.file,
                use.line,
            )
        )


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


def _model_device(model: nn.Module) -> torch.device:
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def _output_scalar(output: Any) -> torch.Tensor | None:
    """The sum of every floating tensor in the output structure that requires grad."""
    total = None
    for _, t in _output_tensors(output):
        if t.is_floating_point() and t.requires_grad:
            part = t.float().sum()
            total = part if total is None else total + part
    return total


def _output_tensors(value: Any, depth: int = 0) -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(value, torch.Tensor):
        yield "", value
    elif depth < 6 and isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _output_tensors(v, depth + 1)
    elif depth < 6 and isinstance(value, dict):  # also ModelOutput-like OrderedDicts
        for v in value.values():
            yield from _output_tensors(v, depth + 1)
    elif depth < 6 and dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _output_tensors(getattr(value, f.name, None), depth + 1)


def _run_once(model: nn.Module, example: Example, device: torch.device) -> tuple[list[Observation], bool, list[str]]:
    index = _Index(model)
    before = index.snapshot()
    trainable = {pid: p for pid, p in index.param_objects.items() if p.requires_grad}
    saved_grads = {pid: p.grad for pid, p in trainable.items()}
    for p in trainable.values():
        p.grad = None
    args, kwargs = example.on(str(device))
    observer = _Observer(index, device)
    observer.bind_inputs(args, kwargs)
    stack = observer.module_stack
    notes: list[str] = []

    def pre_hook(module: nn.Module, _inputs: Any) -> None:
        stack.append(module)

    def post_hook(module: nn.Module, _inputs: Any, _output: Any) -> None:
        if stack and stack[-1] is module:
            stack.pop()

    handles = [
        nn.modules.module.register_module_forward_pre_hook(pre_hook),
        nn.modules.module.register_module_forward_hook(post_hook, always_call=True),
    ]
    try:
        with torch.enable_grad():
            with observer:
                output = model(*args, **kwargs)
            backward = False
            loss = _output_scalar(output) if trainable else None
            if loss is not None:
                loss.backward()
                backward = True
    finally:
        for handle in handles:
            handle.remove()
    changes = _attribute_changes(index, before, observer)  # may rename PI104s seen at first use
    observations = list(observer.observations) + changes
    if backward:
        observations += _unused_parameters(index, trainable)
    elif trainable and not any(t.is_floating_point() for _, t in _output_tensors(output)):
        notes.append("the output holds no floating tensor: no backward pass, PI101 not checked")
    elif trainable:
        observations += _unused_parameters(index, trainable)  # the whole output is detached
    for pid, p in trainable.items():
        p.grad = saved_grads[pid]
    return observations, backward, notes


def _attribute_changes(
    index: _Index, before: dict[str, dict[str, tuple[int, bool]]], observer: _Observer
) -> list[Observation]:
    """PI102 (tensor attributes set during forward) and PI104 (parameters registered during forward)."""
    found: list[Observation] = []
    for path, module in index.module_objects.items():
        old = before.get(path, {})
        cls = type(module)
        for attr, value in _plain_attributes(module):
            prior = old.get(attr)
            if prior is not None and prior[1]:
                continue  # held tensors before forward: a static finding (PI002/PI003), not a run-time one
            if sources.is_torch_class(cls) and attr.startswith("_"):
                continue  # torch.nn's own bookkeeping
            held = [access for access, _ in _tensors_in(value)]
            if not held:
                continue
            loc = sources.find_assignment(cls, attr, outside_init=True) if prior is not None else None
            loc = loc or sources.find_assignment(cls, attr) or sources.find_assignment(cls, attr, outside_init=True)
            file, line = _location(loc)
            names = tuple(_dotted(path, attr) + access for access in held)
            how = "changes" if prior is not None else "sets"
            found.append(
                Observation(
                    "PI102",
                    path,
                    attr,
                    names,
                    f"forward {how} {cls.__name__}.{attr} to a tensor: an unregistered tensor made at run time, "
                    "not moved by .to(), not saved, and kept alive between calls; "
                    f"register_buffer({attr!r}, None, persistent=False) in __init__ or keep it a local variable",
                    file,
                    line,
                )
            )
    for name, p in index.root.named_parameters():
        if id(p) in index.params:
            continue
        path, _, attr = name.rpartition(".")
        owner = index.module_objects.get(path)
        first_use = observer.parameter_reports.pop(id(p), None)
        if first_use is not None:
            observer.observations.remove(first_use)  # named below after the attribute it was stored in
        loc = sources.find_assignment(type(owner), attr) if owner is not None else None
        file, line = _location(loc)
        if file is None and first_use is not None:
            file, line = first_use.file, first_use.line
        message = (
            f"forward registers nn.Parameter {name} on its first call: an optimizer built from parameters() "
            "before that call never updates it, and it is missing from a state_dict saved earlier; create it in "
            "__init__ (or use a lazy module's UninitializedParameter)"
        )
        found.append(Observation("PI104", path, attr, (name,), message, file, line))
    return found


def _unused_parameters(index: _Index, trainable: dict[int, nn.Parameter]) -> list[Observation]:
    found = []
    for pid, p in trainable.items():
        if p.grad is not None:
            continue
        names = tuple(index.params[pid])
        path, _, attr = names[0].rpartition(".")
        owner = index.module_objects.get(path)
        owner_type = type(owner).__name__ if owner is not None else "?"
        file, line = _definition_site(index, names[0])
        found.append(
            Observation(
                "PI101",
                path,
                attr,
                names,
                f"parameter {names[0]} ({owner_type}) requires grad but gets no gradient from forward "
                "(unused or detached): DDP fails with 'Expected to have finished reduction'; use it, "
                "remove it, freeze it with requires_grad_(False), or pass find_unused_parameters=True",
                file,
                line,
            )
        )
    return found


# --- meta first, CPU when needed ----------------------------------------------------------------


def model_bytes(model: nn.Module) -> int:
    """Bytes of the parameters and buffers (shared tensors once): what a CPU copy allocates."""
    seen: set[int] = set()
    total = 0
    for t in (*model.parameters(), *model.buffers()):
        if id(t) in seen or isinstance(t, nn.parameter.UninitializedTensorMixin):
            continue
        seen.add(id(t))
        total += t.numel() * t.element_size()
    return total


def _one_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _materialize(model: nn.Module) -> nn.Module:
    """A meta model on CPU when it cannot be rebuilt: real memory, initialised by reset_parameters()."""
    model.to_empty(device="cpu")
    with torch.no_grad():
        for t in (*model.parameters(), *model.buffers()):
            t.zero_()
        for module in model.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                try:
                    reset()
                except Exception:
                    pass
    return model


def _save_state(
    model: nn.Module,
) -> list[tuple[nn.Module, dict[str, Any], list[tuple[dict[str, Any], dict[str, Any]]]]]:
    """Every module's attributes (and its registration dicts' contents), to undo a failed run."""
    state = []
    for module in model.modules():
        registries = [
            (registry, dict(registry))
            for registry in (module._parameters, module._buffers, module._modules)
            if isinstance(registry, dict)
        ]
        state.append((module, dict(vars(module)), registries))
    return state


def _restore_state(state: list[tuple[nn.Module, dict[str, Any], list[tuple[dict[str, Any], dict[str, Any]]]]]) -> None:
    for module, attributes, registries in state:
        vars(module).clear()
        vars(module).update(attributes)
        for registry, contents in registries:
            registry.clear()
            registry.update(contents)


def _round_up(size: int) -> str:
    """A limit just above `size`, in whole units: 2.3 GiB -> 3GiB."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{-(-size // scale)}{unit}"
    return f"{size}B"


def _batch_of_one(exc: BaseException) -> bool:
    # BatchNorm in training mode refuses one value per channel (a batch of 1 after pooling)
    return "Expected more than 1 value per channel" in str(exc)


def _attempt(model: nn.Module, example: Example, device: torch.device) -> RunReport:
    """One run; a failed run is undone (attributes set before the error), and an automatic
    batch-1 input that BatchNorm refuses in training mode is retried with batch 2."""
    grads = {id(p): (p, p.grad) for p in model.parameters()}
    state = _save_state(model)
    try:
        observations, backward, notes = _run_once(model, example, device)
    except Exception as exc:
        _restore_state(state)
        for p, grad in grads.values():
            p.grad = grad
        if example.alternative is None or not _batch_of_one(exc):
            raise
        example = example.alternative
        observations, backward, notes = _run_once(model, example, device)
        notes = [f"batch 1 is refused by BatchNorm in training mode: ran with {example.description}", *notes]
    return RunReport(tuple(observations), str(device), backward, tuple(notes))


def run_model(
    model: nn.Module,
    example: Example,
    *,
    rebuild: Callable[[], nn.Module] | None = None,
    max_cpu: int | None = None,
    what: str = "the model",
) -> RunReport:
    """Run `model` once on `example` and observe it. A model on meta runs on meta; when that
    fails (an op with no meta kernel, `.item()`, data-dependent shapes) it runs on CPU, rebuilt by
    `rebuild` (else materialised in place), unless its parameters and buffers exceed `max_cpu`
    bytes. Raises UsageError with one line when the forward cannot run."""
    device = _model_device(model)
    if device.type != "meta":
        return _run_checked(model, example, device, what)
    try:
        return _attempt(model, example, device)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        reason = _one_line(exc)
    limit = max_cpu if max_cpu is not None else max_cpu_bytes(None)
    size = model_bytes(model)
    if size > limit:
        raise UsageError(
            f"{what} cannot run on the meta device ({reason}); running it on CPU needs {format_size(size)} "
            f"of parameters and buffers, over the {format_size(limit)} limit: raise it with --max-cpu-bytes "
            f"(or {MAX_CPU_BYTES_ENV}), e.g. --max-cpu-bytes {_round_up(size)}"
        )
    cpu_model = rebuild() if rebuild is not None else _materialize(model)
    report = _run_checked(cpu_model, example, torch.device("cpu"), what)
    note = f"{what} cannot run on the meta device ({reason}); ran it on CPU instead"
    return dataclasses.replace(report, notes=(note, *report.notes))


def _run_checked(model: nn.Module, example: Example, device: torch.device, what: str) -> RunReport:
    try:
        return _attempt(model, example, device)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        hint = "BatchNorm in training mode needs a batch of 2 or more: " if _batch_of_one(exc) else ""
        raise UsageError(
            f"running {what} on the example input ({example.description}) raised {_one_line(exc)}; "
            f"{hint}give a matching input with --input-shape, --input-ids or --example"
        ) from exc


def check_run(
    model: nn.Module,
    options: RunOptions,
    *,
    spec: str = "",
    rebuild: Callable[[], nn.Module] | None = None,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    allow: Sequence[str] | None = None,
) -> tuple[list[Finding], list[str]]:
    """`check --run` for one model: example input from `options`, one observed run, the PI1xx
    findings (select/ignore/allow/noqa applied) and the notes to show. Raises UsageError."""
    from paraminspect.checks.runtime import runtime_enabled, runtime_findings

    if not runtime_enabled(select, ignore):
        return [], []
    limit = max_cpu_bytes(options.max_cpu_bytes)
    example = resolve_example(options, model)
    report = run_model(model, example, rebuild=rebuild, max_cpu=limit, what=spec or type(model).__name__)
    findings = runtime_findings(report.observations, spec, select=select, ignore=ignore, allow=allow)
    return findings, list(report.notes)
