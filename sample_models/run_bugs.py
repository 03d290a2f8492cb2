"""Models whose registration bugs only show when they run (`paraminspect check --run`):
one factory per rule PI101-PI105. All take a float input of shape (batch, DIM):
`--input-shape 2,8` or `--example sample_models/run_bugs.py:make_input`."""

import torch
from torch import nn

DIM = 8
SCALE = torch.full((DIM,), 0.5)  # a module-level tensor read in forward: PI105


def make_input():
    return torch.randn(2, DIM)


class UnusedAndDetached(nn.Module):
    """PI101: aux_head is never called; gain only reaches the output detached."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(DIM, DIM)
        self.aux_head = nn.Linear(DIM, 2)
        self.gain = nn.Parameter(torch.ones(DIM))

    def forward(self, x):
        return self.body(x) * self.gain.detach()


class CachedMask(nn.Module):
    """PI102: forward caches tensors on self."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(DIM, DIM)
        self.mask = None

    def forward(self, x):
        if self.mask is None:
            self.mask = x.new_ones(DIM, DIM).tril()
        out = self.proj(x @ self.mask)
        self.last_output = out.detach()
        return out


class NoDeviceFactory(nn.Module):
    """PI103: torch.arange without device=, then added to the input."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x):
        positions = torch.arange(DIM)
        return self.proj(x + positions)


class ParameterInForward(nn.Module):
    """PI104: a new nn.Parameter on every call, never seen by the optimizer."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x):
        bias = nn.Parameter(torch.zeros(DIM, device=x.device))
        return self.proj(x) + bias


class LazyParameter(nn.Module):
    """PI104: a parameter registered on the first call, after the optimizer was built."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x):
        if "scale" not in self._parameters:
            self.scale = nn.Parameter(torch.ones(DIM, device=x.device))
        return self.proj(x) * self.scale


class GlobalConstant(nn.Module):
    """PI105: reads the module-level SCALE."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x):
        return self.proj(x) * SCALE


def _closure_model() -> nn.Module:
    table = torch.linspace(0.0, 1.0, DIM)

    class ClosureConstant(nn.Module):
        """PI105: reads `table` from the enclosing function."""

        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(DIM, DIM)

        def forward(self, x):
            return self.proj(x) + table

    return ClosureConstant()


class PlainAttribute(nn.Module):
    """PI105: a plain tensor attribute read in forward (also PI002 statically)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(DIM, DIM)
        self.offset = torch.zeros(DIM)

    def forward(self, x):
        return self.proj(x) + self.offset


def unused_parameter() -> nn.Module:
    return UnusedAndDetached()


def cached_mask() -> nn.Module:
    return CachedMask()


def no_device_factory() -> nn.Module:
    return NoDeviceFactory()


def parameter_in_forward() -> nn.Module:
    return ParameterInForward()


def lazy_parameter() -> nn.Module:
    return LazyParameter()


def global_constant() -> nn.Module:
    return GlobalConstant()


def closure_constant() -> nn.Module:
    return _closure_model()


def plain_attribute() -> nn.Module:
    return PlainAttribute()
