"""PI003: tensors in a Python list (never moved, never saved), as torchvision's AnchorGenerator
keeps its cell anchors; and a list that keeps references to registered buffers, which .to()
replaces (the list then holds stale copies)."""

import torch
from torch import nn


class AnchorHead(nn.Module):
    def __init__(self, sizes: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        self.cls = nn.Conv2d(8, len(sizes), 1)
        self.cell_anchors = [torch.tensor([-s / 2, -s / 2, s / 2, s / 2]) for s in sizes]

    def forward(self, x):
        return self.cls(x)


class Detector(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Conv2d(3, 8, 3)
        self.head = AnchorHead()

    def forward(self, x):
        return self.head(self.backbone(x))


def build() -> Detector:
    return Detector()


class Pyramid(nn.Module):
    def __init__(self, levels: int = 3) -> None:
        super().__init__()
        for i in range(levels):
            self.register_buffer(f"scale{i}", torch.full((1,), 2.0**i))
        self.scales = [getattr(self, f"scale{i}") for i in range(levels)]

    def forward(self, x):
        return [x * s for s in self.scales]


def build_stale() -> Pyramid:
    return Pyramid()
