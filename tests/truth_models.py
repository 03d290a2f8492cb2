"""Small models in the shape real libraries have them, for `check --run` (tests/test_truth.py).
Each names the library code it imitates; none is copied from it."""

from __future__ import annotations

import math
import random

import torch
from torch import nn
from torch.distributions import Categorical, Normal


class LegacyParameter(nn.Module):
    """transformers' wav2vec2 `masked_spec_embed`: `torch.Tensor(n)` ignores the meta device
    context, so a meta build leaves this parameter on CPU; forward also caches a tensor (PI102)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.masked_spec_embed = nn.Parameter(torch.Tensor(8).uniform_())
        self.last = None

    def forward(self, x):
        x = self.proj(x) + self.masked_spec_embed
        self.last = x.detach()  # PI102: a true finding the crash used to hide
        return x


class RotaryEmbedding(nn.Module):
    """GPT-NeoX / x-transformers rotary embeddings: positions made on CPU and moved by
    `.type_as(self.inv_freq)` or `.to(x)`, which is the fix, not the bug."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)))

    def forward(self, x):
        n = x.shape[1]
        t = torch.arange(n).type_as(self.inv_freq)
        freqs = torch.einsum("i,j->ij", t, self.inv_freq)
        angles = torch.cat((freqs, freqs), dim=-1)
        offsets = torch.arange(n).to(x)
        return self.proj(x) * angles.cos() + offsets[:, None]


class Alibi(nn.Module):
    """x-transformers' AlibiPositionalBias: `slopes` built with `Tensor(list)` (CPU under a meta
    build) and `device = self.slopes.device` for the positions."""

    def __init__(self, heads: int = 4) -> None:
        super().__init__()
        start = 2 ** (-(2 ** -(math.log2(heads) - 3)))
        slopes = torch.Tensor([start * start**i for i in range(heads)])
        self.register_buffer("slopes", slopes.view(heads, 1, 1), persistent=False)
        self.proj = nn.Linear(8, 8)

    @property
    def device(self):
        return next(self.buffers()).device

    def forward(self, x):
        n = x.shape[1]
        positions = torch.arange(n, device=self.device)
        bias = -(positions[None, :] - positions[:, None]).abs() * self.slopes
        return self.proj(x).unsqueeze(1) + bias[..., :1]


class ListedProjections(nn.Module):
    """OneFormer's `input_projections`: Conv2d layers in a plain Python list (PI004)."""

    def __init__(self) -> None:
        super().__init__()
        self.input_projections = [nn.Conv2d(3, 3, 1) for _ in range(3)]
        self.head = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        for projection in self.input_projections:
            x = projection(x)
        return self.head(x)


class Layer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 8)

    def forward(self, x):
        return x + self.linear(x)


class LayerDrop(nn.Module):
    """torchaudio's wav2vec2 Transformer: each layer skipped when `torch.rand(1).item() <= p` in
    training mode; `gain` is truly unused (PI101)."""

    def __init__(self, depth: int = 8, layer_drop: float = 0.5) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Layer() for _ in range(depth))
        self.layer_drop = layer_drop
        self.gain = nn.Parameter(torch.ones(8))

    def forward(self, x):
        for layer in self.layers:
            if not (self.training and torch.rand(1).item() <= self.layer_drop):
                x = layer(x)
        return x


class TensorLayerDrop(LayerDrop):
    """transformers' wav2vec2 encoder: `dropout_probability = torch.rand([])`, compared in an `if`."""

    def forward(self, x):
        for layer in self.layers:
            dropout_probability = torch.rand([])
            if self.training and dropout_probability < self.layer_drop:
                continue
            x = layer(x)
        return x


class PythonRandomChoice(nn.Module):
    """vit-pytorch's JetViT RandomLayerSelector: `random.choice` picks one branch per call."""

    def __init__(self) -> None:
        super().__init__()
        self.options = nn.ModuleDict({"a": Layer(), "b": Layer(), "c": Layer()})

    def forward(self, x):
        return self.options[random.choice(("a", "b", "c"))](x)


def _sincos(n: int, dim: int) -> torch.Tensor:
    position = torch.arange(n).float()[:, None]
    omega = 1.0 / (10000 ** (torch.arange(dim // 2).float() / (dim // 2)))
    return torch.cat(((position * omega).sin(), (position * omega).cos()), dim=1)


class MovedPositions(nn.Module):
    """vit-pytorch's SimpleViT: a plain (PI002) positional table moved in forward with
    `.to(device, dtype=x.dtype)`."""

    def __init__(self) -> None:
        super().__init__()
        self.pos_embedding = _sincos(4, 8)
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        device = x.device
        return self.proj(x + self.pos_embedding.to(device, dtype=x.dtype))


class ReadPositions(MovedPositions):
    """The same table read without moving it: PI105 stays."""

    def forward(self, x):
        return self.proj(x + self.pos_embedding)


class AsTensorNormalize(nn.Module):
    """torchvision's F.normalize: `torch.as_tensor(mean, device=tensor.device)` of a user's tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.mean = torch.tensor([0.5] * 8)
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device)
        return self.proj(x - mean)


class Result:
    """A plain object holding the output, as some libraries return."""

    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits


class Step(int):
    """An int subclass that carries the loss (a step counter with a payload)."""


class _Heads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8, 4)
        self.unused = nn.Linear(8, 4)  # PI101 once the backward runs


class PlainObjectOutput(_Heads):
    def forward(self, x):
        return Result(self.head(x))


class CategoricalOutput(_Heads):
    """A policy head returning torch.distributions.Categorical (RL libraries)."""

    def forward(self, x):
        return Categorical(logits=self.head(x))


class NormalOutput(_Heads):
    def forward(self, x):
        out = self.head(x)
        return Normal(out, out.exp())


class IntSubclassOutput(_Heads):
    def forward(self, x):
        step = Step(3)
        step.loss = self.head(x).sum()
        return step
