"""PI006: tensors on two devices: the body is materialized, the head was left on the meta
device (as after a partial load into a model built with init_empty_weights).

paraminspect builds on meta by default, where everything is on meta; check it with
`--device cpu` to see the mix: `paraminspect check sample_models/bug_pi006.py:build --device cpu`.
"""

from torch import nn


class PartlyLoaded(nn.Module):
    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.head = nn.Linear(dim, 2, device="meta")

    def forward(self, x):
        return self.head(self.body(x))


def build() -> PartlyLoaded:
    return PartlyLoaded()
