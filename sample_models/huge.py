"""A ~70B-parameter decoder-only transformer, Llama-style: 80 layers, d_model 8192, SwiGLU
feed-forward of 28672, grouped-query attention (64 query heads, 8 key/value heads), RMSNorm,
rotary position embedding, vocabulary 128256, untied output head.

Only ever build it on the meta device (`paraminspect show sample_models/huge.py:build`):
its float32 weights would take about 282 GB. It shows that inspection cost grows with the
number of tensors (724 here), never with their size.

`build_many(tensors=50_000)` gives a model with exactly that many (tiny) tensors, for the
other end of the scale.
"""

import math

import torch
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        variance = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(variance + self.eps)).type_as(x) * self.weight


class Rotary(nn.Module):
    """Rotary position embedding; inv_freq is derived data, so a non-persistent buffer."""

    def __init__(self, head_dim: int, base: float = 500_000.0) -> None:
        super().__init__()
        inv_freq = [1.0 / math.pow(base, i / head_dim) for i in range(0, head_dim, 2)]
        self.register_buffer("inv_freq", torch.tensor(inv_freq, dtype=torch.float32), persistent=False)

    def forward(self, positions):
        freqs = torch.outer(positions.float(), self.inv_freq)
        return torch.cos(freqs), torch.sin(freqs)


def _rotate(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos, sin = cos[..., :half], sin[..., :half]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, kv_heads: int) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.q_proj = nn.Linear(dim, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, dim, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        repeat = self.heads // self.kv_heads
        k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
        out = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, hidden: int, heads: int, kv_heads: int) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(dim)
        self.self_attn = Attention(dim, heads, kv_heads)
        self.post_attention_layernorm = RMSNorm(dim)
        self.mlp = MLP(dim, hidden)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    def __init__(
        self,
        vocab: int = 128_256,
        dim: int = 8192,
        layers: int = 80,
        hidden: int = 28_672,
        heads: int = 64,
        kv_heads: int = 8,
    ) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, dim)
        self.rotary = Rotary(dim // heads)
        self.layers = nn.ModuleList(DecoderLayer(dim, hidden, heads, kv_heads) for _ in range(layers))
        self.norm = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)

    def forward(self, tokens):
        x = self.embed_tokens(tokens)
        cos, sin = self.rotary(torch.arange(tokens.shape[1], device=tokens.device))
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.norm(x))


def build(**kwargs) -> Decoder:
    """The ~70B configuration (keyword arguments override it: `-a layers=2`)."""
    return Decoder(**kwargs)


class Tiny(nn.Module):
    """A small affine layer that allocates its tensors uninitialised (cheap to build)."""

    def __init__(self, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(4, 4))
        self.bias = nn.Parameter(torch.empty(4)) if bias else None

    def forward(self, x):
        return nn.functional.linear(x, self.weight, self.bias)


def build_many(tensors: int = 50_000) -> nn.Sequential:
    """A stack of tiny layers holding exactly `tensors` tensors (weight and bias each; one
    bias-free layer at the end when the count is odd)."""
    if tensors < 1:
        raise ValueError(f"tensors must be at least 1, got {tensors}")
    layers = [Tiny() for _ in range(tensors // 2)]
    if tensors % 2:
        layers.append(Tiny(bias=False))
    return nn.Sequential(*layers)
