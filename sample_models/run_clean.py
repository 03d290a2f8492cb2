"""Clean counterparts of run_bugs.py: `paraminspect check --run` reports nothing. Input: float
(batch, DIM), `--input-shape 2,8` or `--example sample_models/run_clean.py:make_input`."""

import torch
from torch import nn

DIM = 8


def make_input():
    return torch.randn(2, DIM)


class Doubler(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


class CleanRun(nn.Module):
    """Every trainable parameter gets a gradient; tensors made in forward follow the input's
    device; the mask is a buffer; the constant is a buffer; frozen parameters may go unused."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(DIM, DIM)
        self.head = nn.Linear(DIM, DIM)
        self.gain = nn.Parameter(torch.ones(DIM))
        self.frozen = nn.Linear(DIM, DIM).requires_grad_(False)  # unused but frozen: fine
        self.register_buffer("scale", torch.full((DIM,), 0.5))
        self.register_buffer("mask", None, persistent=False)

    def forward(self, x):
        if self.mask is None:
            self.mask = torch.ones(DIM, DIM, device=x.device).tril()  # a registered buffer: fine
        positions = torch.arange(DIM, device=x.device)
        h = self.body(x @ self.mask) + positions
        h = h * torch.tensor(0.5)  # a 0-dim tensor works on every device
        h = h[:, torch.arange(DIM)]  # CPU index tensors work on every device
        h = Doubler.apply(h) * self.scale
        steps = torch.zeros(DIM)  # no device, but never combined with the inputs
        del steps
        return self.head(h) * self.gain


def build() -> nn.Module:
    return CleanRun()


class NeedsData(nn.Module):
    """Clean, but reads tensor values (`.item()`), which the meta device cannot: check --run
    runs it on CPU with a note."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x):
        steps = int(x.abs().sum().item() > 0) + 1
        for _ in range(steps):
            x = self.proj(x)
        return x


def needs_data() -> nn.Module:
    return NeedsData()
