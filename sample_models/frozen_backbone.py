"""A frozen backbone with a trainable head (fine-tuning setup)."""

from torch import nn


class FrozenBackbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3))
        self.head = nn.Linear(16, 10)
        for p in self.backbone.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.head(self.backbone(x).mean((2, 3)))


def build() -> FrozenBackbone:
    return FrozenBackbone()
