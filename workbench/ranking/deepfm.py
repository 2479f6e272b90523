"""DeepFM (Guo et al. 2017): a factorisation machine and a deep network sharing one embedding per field.

Logit = first-order terms + FM second-order term + DNN output, where the FM term is
``½ Σ_k [(Σ_f v_fk x_f)² − Σ_f v_fk² x_f²]`` (Rendle 2010) over every field: categorical
fields contribute their embedding (x_f = 1), numeric fields their value times a per-field
vector (both sums are taken as matrix products, never building ``[B, fields, k]``). The DNN reads the categorical embeddings and the numeric values themselves (the
paper's ``v_f · x_f`` inputs fed to a first layer is this with that layer's weights
factorised, so this is the same model family at a lower cost per pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from workbench.ranking.features import FeatureLayout
from workbench.ranking.layers import FieldEmbedding, check_sizes, mlp
from workbench.rebuildable import rebuildable


@dataclass(frozen=True)
class DeepFMConfig:
    embed_dim: int = 8
    hidden: tuple[int, ...] = (64, 32)
    dropout: float = 0.1
    name: ClassVar[str] = "deepfm"

    def __post_init__(self) -> None:
        check_sizes(self.dropout, embed_dim=self.embed_dim, hidden=self.hidden)

    def build(self, layout: FeatureLayout) -> DeepFM:
        return DeepFM(layout, self)


@rebuildable
class DeepFM(nn.Module):
    def __init__(self, layout: FeatureLayout, cfg: DeepFMConfig) -> None:
        super().__init__()
        n_num, n_cat, k = len(layout.numeric), len(layout.categorical), cfg.embed_dim
        self.embed = FieldEmbedding(layout.cardinalities, k)
        self.weight = FieldEmbedding(layout.cardinalities, 1)
        self.num_embed = nn.Parameter(torch.randn(n_num, k) * 0.01)
        self.num_linear = nn.Linear(n_num, 1)
        self.dnn = mlp(n_cat * k + n_num, cfg.hidden, cfg.dropout)

    def forward(self, num: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        """Logits ``[B]`` for numeric ``[B, F]`` and categorical ``[B, C]`` features."""
        e = self.embed(cat)
        s = e.sum(1) + num @ self.num_embed
        sq = (e * e).sum(1) + (num * num) @ (self.num_embed * self.num_embed)
        fm = 0.5 * (s * s - sq).sum(1)
        first = self.weight(cat).sum((1, 2)) + self.num_linear(num).squeeze(-1)
        deep = self.dnn(torch.cat([e.flatten(1), num], dim=1)).squeeze(-1)
        return first + fm + deep
