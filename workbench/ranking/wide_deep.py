"""Wide & Deep (Cheng et al. 2016): a linear model over raw and cross-product features plus a DNN.

Wide part: ``w·x`` over the numeric features, one weight per categorical value and one
per value pair of each cross in ``crosses`` (the paper's cross-product transformation,
e.g. "user's occupation AND item's category"). Deep part: field embeddings and numeric
values through a ReLU tower. Both are trained jointly on one logit; the paper trains the
wide part with FTRL + L1 and the deep part with AdaGrad, here one Adam optimiser does both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from workbench.ranking.features import FeatureLayout
from workbench.ranking.layers import FieldEmbedding, check_sizes, mlp
from workbench.rebuildable import rebuildable

CROSSES = (
    ("user_gender", "item_category"), ("user_occupation", "item_category"), ("user_age_bucket", "item_category"),
    ("device", "item_category"), ("hour", "item_category"), ("user", "item_category"),
)  # fmt: skip


@dataclass(frozen=True)
class WideDeepConfig:
    embed_dim: int = 8
    hidden: tuple[int, ...] = (64, 32)
    dropout: float = 0.1
    crosses: tuple[tuple[str, str], ...] = CROSSES
    name: ClassVar[str] = "wide_deep"

    def __post_init__(self) -> None:
        check_sizes(self.dropout, embed_dim=self.embed_dim, hidden=self.hidden)

    def build(self, layout: FeatureLayout) -> WideDeep:
        return WideDeep(layout, self)


@rebuildable
class WideDeep(nn.Module):
    def __init__(self, layout: FeatureLayout, cfg: WideDeepConfig) -> None:
        super().__init__()
        pos = {name: j for j, name in enumerate(layout.categorical)}
        unknown = [f for pair in cfg.crosses for f in pair if f not in pos]
        if unknown:
            raise ValueError(f"WideDeepConfig.crosses names unknown fields {unknown}; expected from {layout.categorical}")
        card = layout.cardinalities
        self.register_buffer("cross_a", torch.tensor([pos[a] for a, _ in cfg.crosses], dtype=torch.long))
        self.register_buffer("cross_b", torch.tensor([pos[b] for _, b in cfg.crosses], dtype=torch.long))
        self.register_buffer("card_b", torch.tensor([card[pos[b]] for _, b in cfg.crosses], dtype=torch.long))
        self.wide_cat = FieldEmbedding(card, 1)
        self.wide_cross = FieldEmbedding(tuple(card[pos[a]] * card[pos[b]] for a, b in cfg.crosses) or (1,), 1)
        self.wide_num = nn.Linear(len(layout.numeric), 1)
        self.embed = FieldEmbedding(card, cfg.embed_dim)
        self.dnn = mlp(len(card) * cfg.embed_dim + len(layout.numeric), cfg.hidden, cfg.dropout)

    def forward(self, num: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        """Logits ``[B]`` for numeric ``[B, F]`` and categorical ``[B, C]`` features."""
        wide = self.wide_num(num).squeeze(-1) + self.wide_cat(cat).sum((1, 2))
        if len(self.cross_a):
            wide = wide + self.wide_cross(cat[:, self.cross_a] * self.card_b + cat[:, self.cross_b]).sum((1, 2))
        deep = self.dnn(torch.cat([self.embed(cat).flatten(1), num], dim=1)).squeeze(-1)
        return wide + deep
