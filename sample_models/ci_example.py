import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.scale = torch.ones(dim)
        self.blocks = [nn.Linear(dim, dim) for _ in range(2)]

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x * self.scale


def build() -> Net:
    """The "Use in CI" example of the README: a plain tensor (line 8, PI002) and a plain
    list of modules (line 9, PI004). ci_example_fixed.py and ci_example_noqa.py are the
    same model fixed and with the findings suppressed."""
    return Net()
