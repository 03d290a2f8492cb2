"""The TorchFunctionMode that watches one forward pass (see tracing.py for the provenance model)."""

from __future__ import annotations

import dataclasses
import sys
from types import FrameType
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from paraminspect.forward.tracing import (
    _BOUND,
    _DATA,
    _ESCORTED,
    _FACTORIES,
    _FOREIGN,
    _INDEXING,
    _LIKE,
    _RANDOM,
    _RANDOM_INPLACE,
    _TO_PYTHON,
    Observation,
    _chain_flat,
    _Created,
    _dotted,
    _flat,
    _Index,
    _is_device_mismatch,
    _move_all,
    _name_in_frames,
    _parameter_message,
    _sets_device,
    _short,
    _Site,
    _tensors_in,
    _user_frames,
)


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
        self.random_decisions: list[_Site] = []  # where a random number became a Python value
        for p in index.param_objects.values():
            self._label(p, _BOUND)
        for b in index.buffer_objects:
            self._label(b, _BOUND)
        for t in index.covered:  # inside modules held in Python containers: PI004's finding
            self._label(t, _BOUND)

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
        # `.to(x.device)`, `.type_as(x)`, `torch.as_tensor(t, device=x.device)`: moving a tensor to
        # the inputs' device is the fix for PI103/PI105, not the bug; judged on the result below
        moves = _sets_device(func, args, kwargs)
        escorted: list[torch.Tensor] = []
        # a CPU index tensor works with tensors on any device: not a PI103
        index_ids = {id(t) for t in _flat(args[1])} if func in _INDEXING and len(args) > 1 else set()
        for t in _chain_flat(args, kwargs):
            label = self.labels.get(id(t))
            if label is None:
                label = self._unknown(t, defer=moves)
            if label is _ESCORTED:
                if moves:
                    escorted.append(t)
                    continue
                label = self._foreign(t)  # read directly after all
            if label is _BOUND:
                bound = True
            elif isinstance(label, _Created):
                created = created or label
                if label.reason is not None and tainted is None and id(t) not in index_ids:
                    tainted = label
        if tainted is not None and bound and not moves:
            self._report_device(tainted)
        if created is not None and created.random and func in _TO_PYTHON:
            self.random_decisions.append(self._site())

        out = self._call(func, args, kwargs)

        if escorted and isinstance(out, torch.Tensor) and out.device.type == self.device.type:
            for t in escorted:
                self._label(t, _ESCORTED)
            if any(out is t for t in escorted):  # `.to()` of a tensor already there returns it: tell them apart
                out = out.view_as(out)
        else:  # moved somewhere else than the inputs' device: as if read directly
            for t in escorted:
                self._foreign(t)
        result: object
        factory = _FACTORIES.get(func)
        if factory is not None and not (func in _DATA and args and any(True for _ in _flat(args[0]))):
            result = self._created(func, factory, kwargs, out)
        elif bound:
            result = _BOUND
        elif created is not None:
            if created.reason is not None and moves:
                created = dataclasses.replace(created, reason=None)
            if func in _RANDOM_INPLACE and not created.random:
                created = dataclasses.replace(created, random=True)
            result = created
        else:
            result = _Created(getattr(func, "__name__", "op"), None, None, random=func in _RANDOM)
        for t in _flat(out):
            if (func in _RANDOM_INPLACE or moves) and isinstance(result, _Created):
                # `torch.empty(1).uniform_()`: the same tensor, now random; `.to(x.device)` of a
                # tensor already there returns it: moved all the same
                self._label(t, result)
            elif id(t) not in self.labels or (result is _BOUND and self.labels[id(t)] is not _FOREIGN):
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
        return _Created(f"torch.{name}", self._site(), reason, random=func in _RANDOM)

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

    def _unknown(self, t: torch.Tensor, defer: bool = False) -> object:
        """A tensor no op produced and the model does not hold as a parameter or buffer;
        `defer`: one that is being moved to a device is _ESCORTED, not reported yet."""
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
        return _ESCORTED if defer else self._foreign(t)

    def _foreign(self, t: torch.Tensor) -> object:
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
