"""PI001: a plain tensor attribute with requires_grad=True: the optimizer never trains it."""

import torch
from torch import nn


class LearnedScale(nn.Module):
    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.gamma = torch.ones(dim, requires_grad=True)

    def forward(self, x):
        return self.proj(x) * self.gamma


class Net(nn.Module):
    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.block = LearnedScale(dim)
        self.head = nn.Linear(dim, 2)

    def forward(self, x):
        return self.head(self.block(x))


def build() -> Net:
    return Net()
