"""Buffers, persistent and not: running statistics and a derived lookup table."""

import torch
from torch import nn


class Normalizer(nn.Module):
    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.bn = nn.BatchNorm1d(dim)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("positions", torch.empty(dim, dtype=torch.long), persistent=False)
        self.register_buffer("unused", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The derived table, computed here so that meta-device init (to_empty()) recomputes it too."""
        self.positions.copy_(torch.arange(self.positions.numel()))

    def forward(self, x):
        return self.bn(self.proj(x - self.mean))


def build() -> Normalizer:
    return Normalizer()
