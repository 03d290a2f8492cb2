import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.scale = torch.ones(dim)  # noqa: PI002
        self.blocks = [nn.Linear(dim, dim) for _ in range(2)]  # noqa: PI004

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x * self.scale


def build() -> Net:
    """ci_example.py with its two findings suppressed by `# noqa` comments."""
    return Net()
