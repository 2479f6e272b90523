"""NCF / NeuMF (He et al. 2017): generalized matrix factorisation fused with an MLP over user and item ids.

``logit = h·[p_u ⊙ q_i ; MLP([p'_u ; q'_i])]`` with separate embeddings for the GMF and
MLP branches, as in the paper. With ``side_features=True`` (the default here) a linear
term over the numeric features is added to the logit, so the candidate-source scores
and context reach the model too; ``side_features=False`` is the paper's id-only model.
Users and items unseen at fit time share bucket 0's embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from workbench.ranking.features import FeatureLayout
from workbench.ranking.layers import check_sizes, mlp
from workbench.rebuildable import rebuildable


@dataclass(frozen=True)
class NCFConfig:
    gmf_dim: int = 16
    mlp_dim: int = 16
    hidden: tuple[int, ...] = (64, 32, 16)
    dropout: float = 0.1
    side_features: bool = True
    name: ClassVar[str] = "ncf"

    def __post_init__(self) -> None:
        check_sizes(self.dropout, gmf_dim=self.gmf_dim, mlp_dim=self.mlp_dim, hidden=self.hidden)

    def build(self, layout: FeatureLayout) -> NeuMF:
        return NeuMF(layout, self)


@rebuildable
class NeuMF(nn.Module):
    def __init__(self, layout: FeatureLayout, cfg: NCFConfig) -> None:
        super().__init__()
        self.u, self.i = layout.categorical.index("user"), layout.categorical.index("item")
        n_users, n_items = layout.cardinalities[self.u], layout.cardinalities[self.i]
        self.gmf_user, self.gmf_item = nn.Embedding(n_users, cfg.gmf_dim), nn.Embedding(n_items, cfg.gmf_dim)
        self.mlp_user, self.mlp_item = nn.Embedding(n_users, cfg.mlp_dim), nn.Embedding(n_items, cfg.mlp_dim)
        for emb in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(emb.weight, std=0.01)
        *tower, last = mlp(2 * cfg.mlp_dim, cfg.hidden, cfg.dropout)
        self.tower = nn.Sequential(*tower)
        self.head = nn.Linear(cfg.gmf_dim + (last.in_features), 1)
        self.side = nn.Linear(len(layout.numeric), 1) if cfg.side_features else None

    def forward(self, num: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        """Logits ``[B]``; reads the ``user`` and ``item`` fields of ``cat`` (and ``num`` if side_features)."""
        u, i = cat[:, self.u], cat[:, self.i]
        gmf = self.gmf_user(u) * self.gmf_item(i)
        deep = self.tower(torch.cat([self.mlp_user(u), self.mlp_item(i)], dim=1))
        out = self.head(torch.cat([gmf, deep], dim=1)).squeeze(-1)
        return out if self.side is None else out + self.side(num).squeeze(-1)
