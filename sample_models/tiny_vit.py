"""A small ViT-like model: cls_token and pos_embedding are nn.Parameter, the classic
nn.Parameter example (learned tensors that belong to no layer)."""

import torch
from torch import nn


class TinyViT(nn.Module):
    def __init__(
        self, image_size: int = 32, patch: int = 8, dim: int = 64, depth: int = 2, heads: int = 4, num_classes: int = 10
    ) -> None:
        super().__init__()
        num_patches = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.randn(1, num_patches + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding
        return self.head(self.norm(self.encoder(x))[:, 0])


def build(**kwargs) -> TinyViT:
    return TinyViT(**kwargs)
