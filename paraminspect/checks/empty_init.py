"""PI013's probe: which non-persistent buffers stay uninitialised on the big-model path
(build on meta, `to_empty()`, `load_state_dict()`, the model's own init hooks).

On a deep copy of the model (the model itself is never touched): allocate with `to_empty()` on
the CPU, fill with a marker (NaN; integer and bool buffers get two different fills in two
passes, since any value is a valid integer), run the init hooks the ecosystem calls, and see
which non-persistent buffers still hold the marker. No checkpoint is needed: loading touches
only state_dict entries, and non-persistent buffers are never among them.

Cost. A model whose parameters and buffers take at most WHOLE_MODEL_BYTES is allocated whole
(exact: the hooks run on real memory, as they would after loading). A bigger one keeps its
parameters and persistent buffers on meta, where torch's initialisers cost nothing
(loaders.fastmeta.skip_meta_init), and only its non-persistent buffers are allocated, up to
BUFFER_BYTES; a hook that needs the values of meta tensors then fails and PI013 reports
nothing for that model, with a note. Non-persistent buffers beyond BUFFER_BYTES: skipped with a
note. A model without non-persistent buffers costs nothing (checks/meta_init.py returns first).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

WHOLE_MODEL_BYTES = 16 * 1024**2
BUFFER_BYTES = 1024**3
# Per-module hooks, in the order they run: torch's (FSDP2's meta-init recipe calls it on every
# module) and timm's (timm.models.reinit_non_persistent_buffers walks every module).
MODULE_HOOKS = ("reset_parameters", "init_non_persistent_buffers")


@dataclass(frozen=True)
class ProbeResult:
    """(module path, attribute) -> elements still uninitialised, the hooks that ran (for the
    message), and a note when the probe was skipped or could not decide."""

    uninitialised: dict[tuple[str, str], int] = field(default_factory=dict)
    hooks: tuple[str, ...] = ()
    note: str = ""

    @property
    def hooks_text(self) -> str:
        return ", ".join(f"{h}()" for h in self.hooks) or "none found"


def _size_text(n: int) -> str:
    return f"{n / 1024**2:,.1f} MiB".replace(".0 MiB", " MiB")


def _tensors(model: nn.Module) -> Iterator[torch.Tensor]:
    seen: set[int] = set()
    for t in (*model.parameters(), *model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            yield t


def _nbytes(tensors: Sequence[torch.Tensor] | Iterator[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def _nan_filled(t: torch.Tensor) -> bool:
    return t.is_floating_point() or t.is_complex()


def _fill_value(t: torch.Tensor, second: bool) -> Any:
    """The marker of a pass: NaN for floating and complex tensors; the extremes of an integer
    dtype; True then False for bool."""
    if _nan_filled(t):
        return float("nan")
    if t.dtype == torch.bool:
        return not second
    info = torch.iinfo(t.dtype)
    return info.max if second else info.min


def _still_marked(t: torch.Tensor, second: bool) -> torch.Tensor:
    if _nan_filled(t):
        return torch.isnan(t)
    return t == _fill_value(t, second)


def _callable_without_arguments(fn: Any) -> bool:
    try:
        inspect.signature(fn).bind()
    except (TypeError, ValueError):
        return False
    return True


def _is_transformers_model(model: nn.Module) -> bool:
    return any(
        c.__name__ == "PreTrainedModel" and c.__module__.startswith("transformers.") for c in type(model).__mro__
    )


@dataclass(frozen=True)
class _Hook:
    label: str
    call: Callable[[], Any]
    scope: str | None  # the module path whose subtree it initialises; None: the whole model


def _hooks(model: nn.Module) -> list[_Hook]:
    """Every init hook, in the order they run."""
    out: list[_Hook] = []
    for path, module in model.named_modules():
        for name in MODULE_HOOKS:
            if callable(getattr(type(module), name, None)) and _callable_without_arguments(getattr(module, name)):
                out.append(_Hook(f"{path or type(module).__name__}.{name}", getattr(module, name), path))
    if _is_transformers_model(model):
        name = "initialize_weights" if callable(getattr(model, "initialize_weights", None)) else "init_weights"
        out.append(_Hook(name, lambda: _transformers_init(model, name), None))
    elif callable(getattr(model, "init_weights", None)) and _callable_without_arguments(model.init_weights):
        out.append(_Hook("init_weights", model.init_weights, None))
    return out


def _within(path: str, scope: str) -> bool:
    return not scope or path == scope or path.startswith(scope + ".")


def _transformers_init(model: nn.Module, name: str) -> None:
    """What from_pretrained does after loading: every state_dict tensor counts as loaded (its
    `_is_hf_initialized` flag, which transformers' initialisers respect), then the init of what
    is left."""
    for module in model.modules():
        vars(module).pop("_is_hf_initialized", None)
    for t in model.state_dict(keep_vars=True).values():
        t._is_hf_initialized = True
    getattr(model, name)()


@dataclass(eq=False)  # compared by identity: it holds tensors
class _Target:
    path: str
    attribute: str
    module: nn.Module
    tensor: torch.Tensor
    left: torch.Tensor | None = None  # elements still marked after every pass so far
    version: int = 0  # the tensor's version counter when last looked at (in-place writes bump it)
    from_meta: bool = False  # a hook wrote it from meta tensors (_MetaWrites): written, values unknown

    def written(self) -> bool:
        """Whether a hook wrote the buffer (in place) or replaced it since the last look."""
        replaced = self.module._buffers.get(self.attribute) is not self.tensor
        return replaced or self.from_meta or self.tensor._version != self.version

    def marked(self, second: bool) -> torch.Tensor:
        """The elements that still hold this pass's fill (none when the buffer was replaced)."""
        if self.module._buffers.get(self.attribute) is not self.tensor or self.from_meta:
            return torch.zeros((), dtype=torch.bool)
        self.version = self.tensor._version
        return _still_marked(self.tensor, second)


class _MetaWrites(TorchFunctionMode):
    """While the parameters stay on meta: a hook that writes a buffer from meta tensors (values
    computed on the device of a parameter, as timm's swinv2 does) did write it, which is all the
    probe needs to know; it is recorded instead of run (a copy from meta to the CPU would fail).
    Only writes into the buffer itself (`copy_`, `fill_`, `buf[...] = ...`) are recognised."""

    WRITES = (torch.Tensor.copy_, torch.Tensor.fill_, torch.Tensor.__setitem__)

    def __init__(self, targets: list[_Target]) -> None:
        super().__init__()
        self.targets = {id(t.tensor): t for t in targets}

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        target = self.targets.get(id(args[0])) if func in self.WRITES and args else None
        sources = [*args[1:], *kwargs.values()]
        if target is not None and any(isinstance(a, torch.Tensor) and a.is_meta for a in sources):
            target.from_meta = True
            return None if func is torch.Tensor.__setitem__ else args[0]
        return func(*args, **kwargs)


@contextmanager
def _while_on_meta(targets: list[_Target]) -> Iterator[None]:
    """The parameters on meta: torch's initialisers on them answered without computing anything
    (loaders.fastmeta), and writes from meta tensors into the buffers recorded (_MetaWrites)."""
    from paraminspect.loaders.fastmeta import skip_meta_init

    with skip_meta_init(), _MetaWrites(targets):
        yield


def _targets(model: nn.Module, wanted: Sequence[tuple[str, str]]) -> list[_Target]:
    modules = dict(model.named_modules(remove_duplicate=False))
    out = []
    for path, attribute in dict.fromkeys(wanted):
        module = modules.get(path)
        tensor = module._buffers.get(attribute) if module is not None else None
        if tensor is not None:
            out.append(_Target(path, attribute, module, tensor))
    return out


def _run_pass(model: nn.Module, targets: list[_Target], whole: bool, second: bool) -> str:
    """Fill, run the hooks, and narrow each target's `left` to the elements still marked; an
    error line, or "". The hooks stop once every target has been written in full (later ones
    cannot undo that): in timm's models each module's reset_parameters() does it for its own."""
    from paraminspect.errors import exception_line

    with torch.no_grad():
        if whole and not second:
            for t in _tensors(model):
                t.fill_(_fill_value(t, second))
        for target in targets:
            target.module._buffers[target.attribute] = target.tensor
            target.tensor.fill_(_fill_value(target.tensor, second))
            target.version = target.tensor._version
    marked = {id(t): torch.ones((), dtype=torch.bool) for t in targets}
    open_targets = list(targets)
    for target in targets:
        target.from_meta = False
    for hook in _hooks(model):
        # a module's own hook initialises its subtree: none holding an open buffer is skipped
        if hook.scope is not None and not any(_within(t.path, hook.scope) for t in open_targets):
            continue
        try:
            with torch.no_grad(), _while_on_meta(targets) if not whole else nullcontext():
                hook.call()
        except Exception as exc:  # the model's own code: any error means the probe cannot decide
            return f"{hook.label}() raised {exception_line(exc)}"
        for target in [t for t in open_targets if t.written()]:
            marked[id(target)] = target.marked(second)
            if not bool(marked[id(target)].any()):
                open_targets.remove(target)
        if not open_targets:
            break
    for target in targets:
        mask = target.marked(second) if target in open_targets else marked[id(target)]
        target.left = mask if target.left is None else target.left & mask
    return ""


def probe(model: nn.Module, wanted: Sequence[tuple[str, str]], whole_limit: int = WHOLE_MODEL_BYTES) -> ProbeResult:
    """Which of the non-persistent buffers `wanted` ((module path, attribute)) stay
    uninitialised after to_empty() and the init hooks. The RNG state is left as it was."""
    if not wanted:
        return ProbeResult()
    buffers = _targets(model, wanted)
    buffer_bytes = _nbytes(t.tensor for t in buffers)
    if buffer_bytes > BUFFER_BYTES:
        return ProbeResult(
            note=f"PI013 skipped: the non-persistent buffers take {_size_text(buffer_bytes)}, over its "
            f"{_size_text(BUFFER_BYTES)} limit"
        )
    whole = _nbytes(_tensors(model)) <= whole_limit
    from paraminspect.errors import exception_line

    try:
        shadow = copy.deepcopy(model)
    except Exception as exc:  # a module holding a lock, a file, a generator
        return ProbeResult(note=f"PI013 skipped: the model cannot be copied ({exception_line(exc)})")
    with torch.random.fork_rng(devices=[]):
        try:
            shadow.to_empty(device="cpu" if whole else "meta")
        except Exception as exc:  # an uninitialised lazy parameter, a tensor subclass
            return ProbeResult(note=f"PI013 skipped: to_empty() raised {exception_line(exc)}")
        targets = every = _targets(shadow, wanted)
        for target in targets:
            if target.tensor.device.type != "cpu":
                target.tensor = torch.empty_like(target.tensor, device="cpu")
        hooks = tuple(hook.label for hook in _hooks(shadow))
        for second in (False, True):
            # NaN settles a floating buffer in one pass; an integer one left marked needs another fill
            if second:
                targets = [t for t in targets if bool(t.left.any()) and not _nan_filled(t.tensor)]
                if not targets:
                    break
            error = _run_pass(shadow, targets, whole, second)
            if error:
                where = "" if whole else " (its parameters stayed on the meta device: the model is over "
                where += "" if whole else f"{_size_text(whole_limit)})"
                return ProbeResult(hooks=hooks, note=f"PI013 could not decide{where}: {error}")
    left = {
        (t.path, t.attribute): int(t.left.expand(t.tensor.shape).sum())
        for t in every
        if t.left is not None and bool(t.left.any())
    }
    return ProbeResult(left, tuple(dict.fromkeys(h.rpartition(".")[2] for h in hooks)))
