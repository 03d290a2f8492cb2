"""PI004: nn.Modules in a Python list: their parameters are invisible to parameters(), .to()
and state_dict(), and .eval() does not reach them."""

from torch import nn


class Encoder(nn.Module):
    def __init__(self, dim: int = 8, depth: int = 3) -> None:
        super().__init__()
        self.embed = nn.Linear(dim, dim)
        self.layers = [nn.Sequential(nn.Linear(dim, dim), nn.Dropout(0.1)) for _ in range(depth)]

    def forward(self, x):
        x = self.embed(x)
        for layer in self.layers:
            x = layer(x)
        return x


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.encoder(x))


def build() -> Model:
    return Model()
