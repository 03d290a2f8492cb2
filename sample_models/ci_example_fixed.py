import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(dim))
        self.blocks = nn.ModuleList(nn.Linear(dim, dim) for _ in range(2))

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x * self.scale


def build() -> Net:
    """ci_example.py fixed: a registered buffer and an nn.ModuleList."""
    return Net()
