"""Where each module attribute was set while a model was built: the line that ran, not the first
one in the class's source.

`recording_sites()` wraps `nn.Module.__setattr__` and `nn.Module.register_buffer` for the length
of a build (paraminspect.loaders.build). Each write of a tensor (not an nn.Parameter, which is
registered as it should be), a module or a container on a module records (module, name) ->
(file, line) of the frame that made it, the last write winning:
the first frame outside torch and paraminspect; when that frame is an installed library's
(a framework's property setter, base class or module storing the user's tensor), the user's frame
that called it, where there is one in a method (`self.scale = t`, `super().__init__(4)`,
`self.norm = Normalize(mean, std)`). The walker (tensors/walk.py) hands these to the inventory;
checks/engine.py prefers them to reading the class's source, which is the fallback for modules
built elsewhere (the Python API, a module made at import time).

Cost: one Python call per attribute write during the build, a frame walk only for the values
worth a line (no numbers, strings, functions or tuples of numbers).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType, FrameType
from typing import Any

import torch
from torch import nn

from paraminspect.sources import is_library_file

Site = tuple[str, int]  # (file, line)

# id(module) -> (the module, name -> site). The module is held (its id cannot be reused) from
# its build until the walker has read it or the next build starts: a weak reference with a
# callback per module would cost more than the rest of the recording.
_SITES: dict[int, tuple[nn.Module, dict[str, Site]]] = {}

_SKIP, _STOP, _LIBRARY, _USER = range(4)  # what a frame is, for the walk up the stack
_KINDS: dict[CodeType, int] = {}
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_ATOMS = frozenset({str, bytes, int, float, complex, bool, type(None), torch.dtype, torch.device, range, slice})
_SMALL_TUPLE = 8
_SETTERS = frozenset({"__setattr__", "register_buffer"})  # a class's own override: its caller did it


def _code_kind(code: CodeType) -> int:
    kind = _KINDS.get(code)
    if kind is None:
        file = code.co_filename
        if code in _WRAPPER_CODES or code.co_name in _SETTERS or file.startswith(("<", _TORCH_DIR)):
            kind = _SKIP  # torch, these wrappers, a class's own __setattr__, generated code
        elif os.path.abspath(file).startswith(_OWN_DIR):
            kind = _STOP  # paraminspect's loader: the build started here, no user frame above
        elif is_library_file(file):
            kind = _LIBRARY
        else:
            kind = _USER
        _KINDS[code] = kind
    return kind


def _is_method(frame: FrameType) -> bool:
    """A frame of a method of an object (`self` first): a user's class, not a factory function."""
    code = frame.f_code
    return code.co_argcount > 0 and code.co_varnames[0] == "self"


def _site_of(frame: FrameType | None) -> Site | None:
    kind = _SKIP
    while frame is not None:
        kind = _code_kind(frame.f_code)
        if kind != _SKIP:
            break
        frame = frame.f_back
    if frame is None or kind == _STOP:
        return None
    direct = frame
    if kind == _LIBRARY:  # framework code: the user's line that made it run, where there is one
        frame = frame.f_back
        while frame is not None:
            kind = _code_kind(frame.f_code)
            if kind == _USER:
                if _is_method(frame):
                    direct = frame
                break
            if kind == _STOP:
                break
            frame = frame.f_back
    return direct.f_code.co_filename, direct.f_lineno


def _other_worth_a_site(value: Any) -> bool:
    """Values a finding can be about besides tensors and modules: containers and plain objects,
    not functions, classes or a tuple of numbers (kernel_size=(3, 3))."""
    if type(value) is tuple and len(value) <= _SMALL_TUPLE and all(type(item) in _ATOMS for item in value):
        return False
    return not callable(value)


def _record(module: nn.Module, name: str, frame: FrameType) -> None:
    code = frame.f_code
    if _KINDS.get(code) == _USER:  # the common case: the user's own method assigned it
        site: Site | None = (code.co_filename, frame.f_lineno)
    else:
        site = _site_of(frame)
        if site is None:
            return
    entry = _SITES.get(id(module))
    if entry is None:
        entry = _SITES[id(module)] = (module, {})
    entry[1][name] = site


_original_setattr = nn.Module.__setattr__
_original_register_buffer = nn.Module.register_buffer
_TENSORS_AND_MODULES = (torch.Tensor, nn.Module)
_getframe = sys._getframe


@functools.wraps(_original_setattr)
def _recording_setattr(self: nn.Module, name: str, value: Any) -> None:
    _original_setattr(self, name, value)
    # inline checks: this runs for every attribute any module sets during the build
    cls = type(value)
    if cls is nn.Parameter:
        # Registered as it should be, and most of what a model sets: its line is left to the
        # source (a 50,000-tensor model would pay ~0.3 s for it). An earlier plain value's
        # line no longer applies.
        entry = _SITES.get(id(self))
        if entry is not None:
            entry[1].pop(name, None)
    elif cls not in _ATOMS and (isinstance(value, _TENSORS_AND_MODULES) or _other_worth_a_site(value)):
        _record(self, name, _getframe(1))


@functools.wraps(_original_register_buffer)
def _recording_register_buffer(self: nn.Module, name: str, *args: Any, **kwargs: Any) -> None:
    _original_register_buffer(self, name, *args, **kwargs)
    caller = _getframe(1)
    if caller.f_code is not _SETATTR_CODE:  # re-registering an assigned buffer: __setattr__ records it
        _record(self, name, caller)


_SETATTR_CODE = _original_setattr.__code__
_WRAPPER_CODES = frozenset({_recording_setattr.__code__, _recording_register_buffer.__code__})
_active = 0


@contextmanager
def recording_sites() -> Iterator[None]:
    """Record where attributes are set on modules while the block runs (a build)."""
    global _active
    if _active:  # a build inside a build: the outer recording covers it
        yield
        return
    _active += 1
    _SITES.clear()  # what an earlier build recorded and no walk read
    nn.Module.__setattr__ = _recording_setattr  # type: ignore[method-assign]
    nn.Module.register_buffer = _recording_register_buffer  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.__setattr__ = _original_setattr  # type: ignore[method-assign]
        nn.Module.register_buffer = _original_register_buffer  # type: ignore[method-assign]
        _active -= 1


def sites_of(module: nn.Module) -> dict[str, Site] | None:
    """name -> (file, line) of the last recorded write of each attribute of `module`."""
    entry = _SITES.get(id(module))
    return entry[1] if entry is not None and entry[0] is module else None


def recorded_sites() -> dict[int, Any]:
    """Everything recorded and not yet forgotten (empty: no build recorded anything)."""
    return _SITES


def forget_sites() -> None:
    """Drop what was recorded (the walk has read it), and the references to the modules."""
    _SITES.clear()
