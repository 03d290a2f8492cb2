"""NN_Network with the replacement weights in nn.Linear's own layout: (out_features, in_features)."""

import torch
from torch import nn


class NN_Network(nn.Module):
    def __init__(self, in_dim: int = 5, hid: int = 2, out_dim: int = 3) -> None:
        super().__init__()
        self.linear1 = nn.Linear(in_dim, hid)
        self.linear2 = nn.Linear(hid, out_dim)
        self.linear1.weight = nn.Parameter(torch.zeros(hid, in_dim))
        self.linear1.bias = nn.Parameter(torch.ones(hid))
        self.linear2.weight = nn.Parameter(torch.zeros(out_dim, hid))
        self.linear2.bias = nn.Parameter(torch.ones(out_dim))

    def forward(self, x):
        return self.linear2(torch.relu(self.linear1(x)))


def build(in_dim: int = 5, hid: int = 2, out_dim: int = 3) -> NN_Network:
    return NN_Network(in_dim, hid, out_dim)
