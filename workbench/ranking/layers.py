"""Torch building blocks the rankers share: a ReLU tower and one embedding table for many categorical fields."""

from __future__ import annotations

import torch
from torch import nn


def mlp(n_in: int, hidden: tuple[int, ...], dropout: float) -> nn.Sequential:
    """ReLU tower ``n_in → hidden… → 1``."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(n_in, h), nn.ReLU(), nn.Dropout(dropout)]
        n_in = h
    return nn.Sequential(*layers, nn.Linear(n_in, 1))


class FieldEmbedding(nn.Module):
    """One table for all categorical fields: field f's code c lives at row ``offset_f + c``."""

    def __init__(self, cardinalities: tuple[int, ...], dim: int) -> None:
        super().__init__()
        self.register_buffer("offsets", torch.tensor([0, *cardinalities[:-1]]).cumsum(0))
        self.table = nn.Embedding(sum(cardinalities), dim)
        nn.init.normal_(self.table.weight, std=0.01)

    def forward(self, cat: torch.Tensor) -> torch.Tensor:
        return self.table(cat + self.offsets)
