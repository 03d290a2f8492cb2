"""PI002: a plain tensor attribute: .to() leaves it behind and state_dict() does not save it."""

import torch
from torch import nn


class Normalize(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.normalize = Normalize()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.conv(self.normalize(x)).mean((2, 3)))


def build() -> Classifier:
    return Classifier()
