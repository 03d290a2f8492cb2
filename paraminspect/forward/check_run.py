"""check --run: one forward (and backward) pass of the model on an example input, observed,
with a CPU fallback bounded by a size limit. Returns plain data; no printing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from paraminspect import sources
from paraminspect.checks.rule import Finding
from paraminspect.errors import UsageError, exception_line
from paraminspect.forward.examples import (
    MAX_CPU_BYTES_ENV,
    ExampleInput,
    RunOptions,
    format_size,
    max_cpu_bytes,
    resolve_example,
)
from paraminspect.forward.observer import _Observer
from paraminspect.forward.seeded import seeded
from paraminspect.forward.tracing import (
    Observation,
    RunReport,
    _definition_site,
    _dotted,
    _Index,
    _is_device_mismatch,
    _location,
    _plain_attributes,
    _short,
    _tensors_in,
)
from paraminspect.wording import listing, plural

__all__ = ["Observation", "RunReport", "check_run", "run_model"]


def _model_device(model: nn.Module) -> torch.device:
    """Meta when any registered tensor is there (a meta build leaves legacy-constructed
    tensors on CPU), else the first tensor's device."""
    first = None
    for t in (*model.parameters(), *model.buffers()):
        if t.device.type == "meta":
            return t.device
        first = first or t.device
    if first is None:  # nothing registered: where the plain tensors are (a meta build made them)
        for module in model.modules():
            for _, value in _plain_attributes(module):
                for _, t in _tensors_in(value):
                    return t.device
    return first or torch.device("cpu")


_Swap = tuple[torch.Tensor, torch.Tensor]


def _stragglers_to_meta(model: nn.Module) -> tuple[list[str], list[_Swap]]:
    """Registered tensors of a meta model that are not on meta (`nn.Parameter(torch.Tensor(n))`:
    legacy constructors ignore the device context): swapped in place for meta copies, so that
    every alias sees the move, as `.to()` would move them in a real build. Returns their names and
    what `_swap_back` needs."""
    names: list[str] = []
    swaps: list[_Swap] = []
    seen: set[int] = set()
    for name, t in (*model.named_parameters(), *model.named_buffers()):
        if id(t) in seen or t.device.type == "meta" or isinstance(t, nn.parameter.UninitializedTensorMixin):
            continue
        seen.add(id(t))
        moved = t.detach().to("meta")
        if isinstance(t, nn.Parameter):
            moved = nn.Parameter(moved, requires_grad=t.requires_grad)
        try:
            torch.utils.swap_tensors(t, moved)
        except Exception:  # a weakref or a tensor subclass that cannot be swapped: leave it
            continue
        names.append(name)
        swaps.append((t, moved))
    return names, swaps


def _swap_back(swaps: list[_Swap]) -> None:
    for t, moved in swaps:
        torch.utils.swap_tensors(t, moved)


def _output_scalar(output: Any) -> torch.Tensor | None:
    """The sum of every floating tensor in the output structure that requires grad."""
    total = None
    for _, t in _output_tensors(output):
        if t.is_floating_point() and t.requires_grad:
            part = t.float().sum()
            total = part if total is None else total + part
    return total


def _output_tensors(value: Any, depth: int = 0, seen: set[int] | None = None) -> Iterator[tuple[str, torch.Tensor]]:
    """Tensors in an output: in containers, dataclasses and any object's `__dict__` (a
    torch.distributions.Categorical's logits, an int subclass carrying the loss), each once."""
    if isinstance(value, torch.Tensor):
        yield "", value
        return
    seen = set() if seen is None else seen
    if depth >= 6 or id(value) in seen or isinstance(value, (str, bytes, nn.Module, type)):
        return
    seen.add(id(value))
    items: Any = ()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = value
    elif isinstance(value, dict):  # also ModelOutput-like OrderedDicts
        items = value.values()
    elif dataclasses.is_dataclass(value):
        items = [getattr(value, f.name, None) for f in dataclasses.fields(value)]
    elif not callable(value):
        try:
            items = list(vars(value).values())
        except TypeError:  # no __dict__
            items = ()
    for v in items:
        yield from _output_tensors(v, depth + 1, seen)


def _run_once(
    model: nn.Module, example: ExampleInput, device: torch.device
) -> tuple[list[Observation], bool, list[str]]:
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

    ran: set[int] = set()  # modules whose forward was called

    def pre_hook(module: nn.Module, _inputs: Any) -> None:
        stack.append(module)
        ran.add(id(module))

    def post_hook(module: nn.Module, _inputs: Any, _output: Any) -> None:
        if stack and stack[-1] is module:
            stack.pop()

    handles = [
        nn.modules.module.register_module_forward_pre_hook(pre_hook),
        nn.modules.module.register_module_forward_hook(post_hook, always_call=True),
    ]
    try:
        with torch.enable_grad(), seeded(device) as draws:
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
    skipped = _random_skips(observer, draws.outside_torch, index, ran)
    if backward:
        observations += _unused_parameters(index, trainable, skipped, notes)
    elif trainable and not any(t.is_floating_point() for _, t in _output_tensors(output)):
        notes.append("the output holds no floating tensor: no backward pass, PI101 not checked")
    elif trainable:
        observations += _unused_parameters(index, trainable, skipped, notes)  # the whole output is detached
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


def _random_skips(observer: _Observer, outside_torch: list[str], index: _Index, ran: set[int]) -> tuple[str, set[str]]:
    """When forward drew random numbers that may decide which modules run (LayerDrop, a random
    branch): (where they were drawn, the paths of the modules that did not run); else ("", set())."""
    if not observer.random_decisions and not outside_torch:
        return "", set()
    where = [f"{_short(s.file)}:{s.line}" for s in observer.random_decisions if s.file]
    where = list(dict.fromkeys(where))[:3] + outside_torch
    idle = {path for path, module in index.module_objects.items() if id(module) not in ran}
    return ", ".join(where) or "forward", idle


def _unused_parameters(
    index: _Index, trainable: dict[int, nn.Parameter], skipped: tuple[str, set[str]], notes: list[str]
) -> list[Observation]:
    """PI101; parameters of modules that a random skip may have left out are counted in a note."""
    found = []
    where, idle = skipped
    left_out = 0
    for pid, p in trainable.items():
        if p.grad is not None:
            continue
        names = tuple(index.params[pid])
        path, _, attr = names[0].rpartition(".")
        if any(n.rpartition(".")[0] in idle for n in names):
            left_out += 1
            continue
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
    if left_out:
        notes.append(
            f"forward draws random numbers that decide what runs ({where}): PI101 leaves out "
            f"{left_out} parameter{'s' if left_out > 1 else ''} of modules that did not run in this pass"
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


def _attempt(model: nn.Module, example: ExampleInput, device: torch.device) -> RunReport:
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
    example: ExampleInput,
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
    moved, swaps = _stragglers_to_meta(model)
    try:
        report = _attempt(model, example, device)
        if moved:
            note = (
                f"{plural(len(moved), 'registered tensor')} of the meta build stayed on CPU ({listing(moved)}: "
                "legacy constructors such as torch.Tensor(n) ignore the device): moved to meta for the run"
            )
            report = dataclasses.replace(report, notes=(note, *report.notes))
        return report
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        reason = exception_line(exc)
    finally:
        _swap_back(swaps)
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


def _run_checked(model: nn.Module, example: ExampleInput, device: torch.device, what: str) -> RunReport:
    try:
        return _attempt(model, example, device)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        if _is_device_mismatch(exc):  # the model's own tensors disagree: another input would not help
            raise UsageError(
                f"running {what} on {device} raised {exception_line(exc)}: its tensors are on more than one device "
                "(see PI006 and PI105 in `paraminspect check`); --device cpu builds and runs it on CPU"
            ) from exc
        hint = "BatchNorm in training mode needs a batch of 2 or more: " if _batch_of_one(exc) else ""
        raise UsageError(
            f"running {what} on the example input ({example.description}) raised {exception_line(exc)}; "
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
    suppressed: list[Any] | None = None,
) -> tuple[list[Finding], list[str]]:
    """`check --run` for one model: example input from `options`, one observed run, the PI1xx
    findings (select/ignore/allow/noqa applied) and the notes to show. Raises UsageError."""
    from paraminspect.checks.runtime import runtime_enabled, runtime_findings

    if not runtime_enabled(select, ignore):
        return [], []
    limit = max_cpu_bytes(options.max_cpu_bytes)
    example = resolve_example(options, model)
    report = run_model(model, example, rebuild=rebuild, max_cpu=limit, what=spec or type(model).__name__)
    findings = runtime_findings(
        report.observations, spec, select=select, ignore=ignore, allow=allow, suppressed=suppressed
    )
    return findings, list(report.notes)
