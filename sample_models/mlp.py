"""A clean MLP: every tensor is a registered parameter."""

from torch import nn


class MLP(nn.Module):
    def __init__(self, in_dim: int = 16, hidden: int = 32, out_dim: int = 4) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden, out_dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def build(in_dim: int = 16, hidden: int = 32, out_dim: int = 4) -> MLP:
    return MLP(in_dim, hidden, out_dim)
