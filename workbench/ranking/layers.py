"""Torch building blocks the rankers share: a ReLU tower and one embedding table for many categorical fields."""

from __future__ import annotations

import torch
from torch import nn

from workbench.checks import check_count


def check_sizes(dropout: float, **sizes: int | tuple[int, ...]) -> None:
    """A torch ranker config's ranges: every size (or each layer of a tuple) a positive integer, dropout in [0, 1)."""
    for name, value in sizes.items():
        for v in value if isinstance(value, tuple) else (value,):
            check_count(name, v, 1)
    if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
        raise ValueError(f"dropout={dropout!r}: expected a probability in [0, 1)")


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
