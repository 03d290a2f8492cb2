"""A model with a plain tensor attribute: not moved by .to(), not saved in state_dict."""

import torch
from torch import nn


class ScaledLinear(nn.Module):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.scale = torch.ones(dim)

    def forward(self, x):
        return self.linear(x) * self.scale


def build() -> ScaledLinear:
    return ScaledLinear()
