"""Stage 3, reranking: freshness boost, MMR diversity, business rules, exploration.

Each step is a pure function over arrays for many users; `rerank` composes them
(see `workbench.rerank.compose` for the order and why). The MMR function is
``workbench.rerank.mmr.mmr``: the package does not re-export it, so that the name
``workbench.rerank.mmr`` stays the submodule.
"""

from workbench.rerank.compose import STEPS, RerankConfig, rerank
from workbench.rerank.exploration import ExplorationResult, explore, explore_positions, n_explore_slots
from workbench.rerank.freshness import freshness_boost, freshness_multiplier
from workbench.rerank.mmr import MMRResult, minmax_normalise
from workbench.lists import apply_order, compact, seen_mask
from workbench.rerank.rules import category_cap, category_rank, eligible, pin_promoted

__all__ = [
    "STEPS",
    "ExplorationResult",
    "MMRResult",
    "RerankConfig",
    "apply_order",
    "category_cap",
    "category_rank",
    "compact",
    "eligible",
    "explore",
    "explore_positions",
    "freshness_boost",
    "freshness_multiplier",
    "minmax_normalise",
    "n_explore_slots",
    "pin_promoted",
    "rerank",
    "seen_mask",
]
