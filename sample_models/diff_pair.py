"""A model before and after a refactor, for `paraminspect diff` (README "diff"):

    paraminspect diff sample_models/diff_pair.py:after sample_models/diff_pair.py:before

`after` renamed `map_head` to `world_head` and made the rotary `inv_freq` buffer
non-persistent (it is recomputed at init), so a checkpoint saved by `before` no longer loads.
"""

import torch
from torch import nn


class Rotary(nn.Module):
    def __init__(self, dim, persistent):
        super().__init__()
        inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=persistent)


class Block(nn.Module):
    def __init__(self, dim, persistent):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.rotary = Rotary(dim, persistent)


class Before(nn.Module):
    def __init__(self, dim=32, depth=4, classes=5):
        super().__init__()
        self.embed = nn.Linear(16, dim)
        self.blocks = nn.ModuleList(Block(dim, persistent=True) for _ in range(depth))
        self.map_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, classes))


class After(nn.Module):
    def __init__(self, dim=32, depth=4, classes=5):
        super().__init__()
        self.embed = nn.Linear(16, dim)
        self.blocks = nn.ModuleList(Block(dim, persistent=False) for _ in range(depth))
        self.world_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, classes))


def before():
    return Before()


def after():
    return After()
