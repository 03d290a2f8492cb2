"""A language model whose output projection shares the input embedding's weight."""

from torch import nn


class TiedLM(nn.Module):
    def __init__(self, vocab: int = 100, dim: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.block = nn.Linear(dim, dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.embed.weight

    def forward(self, ids):
        return self.lm_head(self.block(self.embed(ids)))


def build() -> TiedLM:
    return TiedLM()
