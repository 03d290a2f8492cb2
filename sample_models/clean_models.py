"""Clean models: each factory uses a registration pattern that must produce no warning or
error (`paraminspect check sample_models/clean_models.py:Tied`). Some give info findings
(frozen, tied, non-persistent buffers), which is their point."""

import warnings

import torch
from torch import nn
from torch.nn.utils import parametrize


class ParameterContainers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scales = nn.ParameterList(nn.Parameter(torch.ones(4)) for _ in range(3))
        self.biases = nn.ParameterDict({"a": nn.Parameter(torch.zeros(4)), "b": nn.Parameter(torch.zeros(4))})

    def forward(self, x):
        for s in self.scales:
            x = x * s
        return x + self.biases["a"] + self.biases["b"]


class ModuleContainers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(2))
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 2), "box": nn.Linear(4, 4)})
        self.stem = nn.Sequential(nn.Linear(4, 4), nn.ReLU())

    def forward(self, x):
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return {k: h(x) for k, h in self.heads.items()}


class BufferSetToNone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.register_buffer("shift", None)
        self.register_parameter("gain", None)

    def forward(self, x):
        return self.linear(x)


class Frozen(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.head = nn.Linear(8, 2)
        self.backbone.requires_grad_(False)

    def forward(self, x):
        return self.head(self.backbone(x))


class Tied(nn.Module):
    def __init__(self, vocab: int = 50, dim: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.embed.weight

    def forward(self, ids):
        return self.lm_head(self.embed(ids))


class Lazy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.LazyConv2d(8, 3)
        self.bn = nn.LazyBatchNorm2d()
        self.fc = nn.LazyLinear(2)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))


class Symmetric(nn.Module):
    def forward(self, w):
        return w.triu() + w.triu(1).transpose(-1, -2)


class Parametrized(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        parametrize.register_parametrization(self.linear, "weight", Symmetric())

    def forward(self, x):
        return self.linear(x)


class WeightNormed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.new_api = nn.utils.parametrizations.weight_norm(nn.Linear(4, 4))
        with warnings.catch_warnings():  # the hook-based API is deprecated, still common
            warnings.simplefilter("ignore", FutureWarning)
            self.old_api = nn.utils.weight_norm(nn.Linear(4, 4))
        self.spectral = nn.utils.spectral_norm(nn.Linear(4, 4))

    def forward(self, x):
        return self.spectral(self.old_api(self.new_api(x)))


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 8, num_layers=2, bidirectional=True)
        self.gru = nn.GRU(4, 8)
        self.rnn = nn.RNN(4, 8)

    def forward(self, x):
        return self.lstm(x)[0], self.gru(x)[0], self.rnn(x)[0]


class ParameterReferences(nn.Module):
    """A Python list of references to registered Parameters: .to() updates Parameters in
    place, so the list stays valid (not reported)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(2))
        self.decay = [layer.weight for layer in self.layers]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


# Every class above is a factory: `paraminspect check sample_models/clean_models.py:Tied`.
CLEAN = [
    ParameterContainers,
    ModuleContainers,
    BufferSetToNone,
    Frozen,
    Tied,
    Lazy,
    Parametrized,
    WeightNormed,
    Recurrent,
    ParameterReferences,
]
