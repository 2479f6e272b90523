"""Stage 3: turn a ranked `CandidateSet` into a `Slate` of k items per user.

The steps, each a pure vectorised function of this package, run in ``config.order``:

    "filter"     drop seen and unavailable items (rules.eligible)
    "freshness"  relevance ×= (1 + w·exp(−decay·age/30)) / (1 + w), then re-sort by it (freshness.py);
                 after "mmr", the re-sort runs within the k picks and within the rest
    "mmr"        the first k places by MMR, the rest keep their order (mmr.py)
    "pins"       up to max_pins promoted items to the front (rules.pin_promoted)
    "cap"        at most category_cap items per category (rules.category_cap; pinned exempt)
    "explore"    ε of the k slots to random items from below the slate (exploration.py)

Why this default order: the textbook boosts freshness *after* MMR and re-sorts by the
boosted score, which throws MMR's diversified order away (only the membership of the
list survives). Boosting first lets MMR see the fresher relevance, and each knob's
effect stays visible. ``order=("filter", "mmr", "freshness", ...)`` reproduces the
textbook's mistake, to watch it happen.

The category cap is strict: items over the cap leave the list, which may come out
shorter than k. Exploration runs last and draws from below the slate whatever the
categories, so explored slots may exceed the cap.

Relevance starts as the ranked scores min-max normalised per user to [0, 1]
(best 1, worst 0; a user whose scores are all equal gets 1 everywhere), so that the
freshness boost never lowers a negative score and λ means the same for every user.
This is the only normalisation: the boost is divided by its ceiling 1 + w, a constant, so
relevance stays in [0, 1] (a boost equal for every item, decay 0, changes nothing, MMR
included), and MMR weighs the relevance as it finds it (the ``relevance`` trace).

The state between steps is a per-user order of the input's columns; an item the
rules drop leaves it, and later steps fill the slate from what remains. Users left
with no eligible item get a padding row (items −1, propensity 0, score −inf): the
pipeline decides on a fallback. k larger than a user's eligible pool pads the row
end the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from workbench.rerank.exploration import explore
from workbench.rerank.freshness import freshness_boost, freshness_multiplier
from workbench.checks import check_count, check_unit_interval
from workbench.rerank.mmr import ALPHA, LAM, check_weights, minmax_normalise, mmr_checked
from workbench.lists import apply_order, compact, partition
from workbench.rerank.rules import category_cap, eligible, pin_promoted
from workbench.types import CandidateSet, ItemArrays, Slate

STEPS = ("filter", "freshness", "mmr", "pins", "cap", "explore")


@dataclass(frozen=True)
class RerankConfig:
    """Knobs of stage 3.

    lam: λ in [0, 1], MMR's relevance weight (1 = relevance order, 0 = pure diversity;
        the textbook's docstring calls λ the diversity weight, but its formula, like
        ours, multiplies relevance by λ).
    alpha: α in [0, 1], the same-category share of MMR similarity (rest: cosine).
    freshness_decay: ≥ 0, per 30 days of age. freshness_weight: w ≥ 0 (0 = off).
    exploration_rate: ε in [0, 1], share of the k slots explored.
    max_pins: promoted items pinned to the front (0 = none).
    category_cap: at most this many items per category, or None.
    order: the steps to run, in order (a subset of STEPS; "explore" last if present).
    seed: seed of exploration's random draws; None: 0 when `rerank` is called alone, the
        pipeline's seed inside a `workbench.pipeline.Pipeline`.
    """

    lam: float = LAM
    alpha: float = ALPHA
    freshness_decay: float = 1.0
    freshness_weight: float = 0.2
    exploration_rate: float = 0.0
    max_pins: int = 1
    category_cap: int | None = None
    order: tuple[str, ...] = STEPS
    seed: int | None = None

    def __post_init__(self) -> None:
        check_weights(self.lam, self.alpha)  # λ and α: validated here, once per config
        check_unit_interval("exploration_rate ε", self.exploration_rate)
        freshness_multiplier(np.zeros(1), decay=self.freshness_decay, weight=self.freshness_weight)
        check_count("max_pins", self.max_pins, 0)
        if self.category_cap is not None:
            check_count("category_cap (None for no cap)", self.category_cap, 1)
        order = tuple(self.order)
        unknown = [s for s in order if s not in STEPS]
        if unknown or len(set(order)) != len(order):
            raise ValueError(f"order {order!r} must list distinct steps from {STEPS}; unknown: {unknown}")
        if "explore" in order and order[-1] != "explore":
            raise ValueError(f"'explore' cuts the slate, so it must come last in order, got {order!r}")
        object.__setattr__(self, "order", order)
        if self.seed is not None:
            check_count("seed (None: the pipeline's)", self.seed, 0)


def _check_items(name: str, arr: np.ndarray | None, n_items: int, dtype) -> np.ndarray | None:
    if arr is None:
        return None
    arr = np.asarray(arr, dtype=dtype)
    if arr.shape[:1] != (n_items,):
        raise ValueError(f"{name} has shape {arr.shape}; expected one entry per item ({n_items}, from item_vectors)")
    return arr


def rerank(
    ranked: CandidateSet,
    k: int,
    *,
    items: ItemArrays | None = None,
    item_vectors: np.ndarray | None = None,
    item_category: np.ndarray | None = None,
    item_age_days: np.ndarray | None = None,
    item_available: np.ndarray | None = None,
    item_promoted: np.ndarray | None = None,
    seen: sp.spmatrix | None = None,
    config: RerankConfig = RerankConfig(),
) -> Slate:
    """Rerank ``ranked`` to ``k`` items per user (see the module docstring).

    items: the catalogue's arrays in one object (`workbench.types.ItemArrays`, e.g.
    ``train.item_arrays()``); or each array alone, as below (not both).
    Item arrays are indexed by item id: item_vectors float ``[n_items, d]``,
    item_category int, item_age_days float (days), item_available bool,
    item_promoted bool, all ``[n_items]``. seen: CSR ``[n_users_total, n_items]`` whose
    row ``ranked.users[u]`` lists items to drop for row u.

    Slate.scores holds the ranked (model) scores; trace holds, per cell:
    ``ranked_position`` (0-based rank by input score), ``freshness_boost`` (multiplier),
    ``relevance`` (normalised, boosted), ``mmr_score`` (marginal value when MMR placed it,
    NaN otherwise), ``moved_by_mmr`` (places MMR moved the item up in the list it was
    given, negative = down; 0 without MMR), ``place_before_mmr`` (0-based place in the list MMR was
    given, i.e. after the steps before it; -1 without MMR), ``pinned`` and ``explored``;
    Slate.propensities from exploration (1.0 deterministic, 1/pool explored, 0 padding).
    Steps left out of ``config.order`` do not run, whatever inputs are passed.
    """
    k = check_count("k", k, 1)
    if items is not None:
        given = [n for n, v in (("item_vectors", item_vectors), ("item_category", item_category),
                                ("item_age_days", item_age_days), ("item_available", item_available),
                                ("item_promoted", item_promoted)) if v is not None]  # fmt: skip
        if given:
            raise ValueError(f"rerank: items= and {given}: expected the item arrays once (items= holds them all)")
        item_vectors, item_category, item_age_days = items.vectors, items.category, items.age_days
        item_available, item_promoted = items.available, items.promoted
    if item_vectors is None or item_category is None or item_age_days is None:
        raise ValueError("rerank: expected items= (an ItemArrays) or item_vectors, item_category and item_age_days")
    vectors = np.asarray(item_vectors)
    if vectors.ndim != 2:
        raise ValueError(f"item_vectors must be 2-D [n_items, d], got shape {vectors.shape}")
    n_items = vectors.shape[0]
    category = _check_items("item_category", item_category, n_items, np.int64)
    age = _check_items("item_age_days", item_age_days, n_items, np.float64)
    available = _check_items("item_available", item_available, n_items, bool)
    promoted = _check_items("item_promoted", item_promoted, n_items, bool)
    if ranked.items.size and ranked.items.max() >= n_items:
        raise ValueError(f"ranked holds item id {ranked.items.max()}, beyond the {n_items} items of item_vectors")

    step_ms: dict[str, float] = {}
    n_users, n = ranked.items.shape
    rows = np.arange(n_users)[:, None]
    mask = ranked.mask
    rel = minmax_normalise(ranked.scores, mask)
    key = np.where(mask, ranked.scores.astype(np.float64), -np.inf)
    cols = np.broadcast_to(np.arange(n), (n_users, n))
    if (key[:, 1:] > key[:, :-1]).any():
        cols = np.argsort(-key, axis=1, kind="stable")
    ranked_position = np.empty((n_users, n), dtype=np.int64)
    ranked_position[rows, cols] = np.arange(n)
    cols = np.where(apply_order(mask, cols), cols, -1)
    if n < k:
        cols = np.hstack([cols, np.full((n_users, k - n), -1, dtype=cols.dtype)])

    boost = np.ones((n_users, n))
    shift = np.zeros((n_users, n), dtype=np.int64)
    before_mmr = np.full((n_users, n), -1, dtype=np.int64)
    pinned = np.zeros((n_users, n), dtype=bool)
    mmr_score = np.full((n_users, n), np.nan)
    propensity = explored = None

    done: list[str] = []
    for step in config.order:
        t0 = time.perf_counter()
        items_now = apply_order(ranked.items, cols) if step != "freshness" else None
        if step == "filter":
            keep = eligible(items_now, users=ranked.users, seen=seen, available=available)
            cols = apply_order(cols, compact(keep))
        elif step == "freshness":
            rel, boost = freshness_boost(
                rel, ranked.items, age, decay=config.freshness_decay, weight=config.freshness_weight
            )
            rel = rel / (1.0 + config.freshness_weight)
            segment = np.broadcast_to(("mmr" in done) * (np.arange(cols.shape[1]) >= k), cols.shape)
            cols = apply_order(cols, np.lexsort((-apply_order(rel, cols, -np.inf), segment), axis=1))
        elif step == "mmr":
            res = mmr_checked(apply_order(rel, cols, 0.0), items_now, vectors, category, k, lam=config.lam, alpha=config.alpha,
                      normalise=False)  # fmt: skip
            cols, shift, mmr_score, before_mmr = _after_mmr(cols, res.order, res.marginal, shift, mmr_score)
        elif step == "pins" and promoted is not None and config.max_pins > 0:
            order, pin = pin_promoted(items_now, promoted, config.max_pins)
            cols = apply_order(cols, order)
            r, c = np.nonzero(pin)
            pinned[r, cols[r, c]] = True
        elif step == "cap" and config.category_cap is not None:
            exempt = apply_order(pinned, cols, False)
            cols = apply_order(cols, category_cap(items_now, category, config.category_cap, exempt))
        elif step == "explore":
            res = explore(items_now, k, config.exploration_rate, 0 if config.seed is None else config.seed)
            cols, propensity, explored = apply_order(cols, res.order), res.propensity, res.explored
        step_ms[step] = (time.perf_counter() - t0) * 1e3
        done.append(step)

    final = cols[:, :k]
    if propensity is None:
        propensity = np.where(final >= 0, 1.0, 0.0)
        explored = np.zeros(final.shape, dtype=bool)
    trace = {
        "ranked_position": apply_order(ranked_position, final, -1),
        "freshness_boost": apply_order(boost, final, np.nan),
        "relevance": apply_order(rel, final, np.nan),
        "mmr_score": apply_order(mmr_score, final, np.nan),
        "moved_by_mmr": apply_order(shift, final, 0),
        "place_before_mmr": apply_order(before_mmr, final, -1),
        "pinned": apply_order(pinned, final, False),
        "explored": explored,
    }
    return Slate(
        users=ranked.users,
        items=apply_order(ranked.items, final),
        scores=apply_order(ranked.scores, final, -np.inf),
        propensities=propensity,
        trace=trace,
        stages={"ranked": ranked},
        meta={"rerank_config": config, "k": k, "rerank_step_ms": step_ms},
    )


def _after_mmr(cols, picks, marginal, shift, mmr_score):
    """Put MMR's picks first and the rest in their current order; record per column the
    places each moved (old position − new position), its old position and the marginal value of each pick."""
    n_users, width = cols.shape
    live = picks >= 0
    picked = np.zeros(cols.shape, dtype=bool)
    picked[np.nonzero(live)[0], picks[live]] = True
    new = partition(picked, cols >= 0)
    new[:, : picks.shape[1]] = picks[:, :width]
    new_cols = apply_order(cols, new)
    real = new_cols >= 0
    rows = np.broadcast_to(np.arange(n_users)[:, None], new.shape)
    shift = shift.copy()
    shift[rows[real], new_cols[real]] = (new - np.arange(width))[real]
    before = np.full(cols.shape, -1, dtype=np.int64)
    before[rows[real], new_cols[real]] = new[real]
    mmr_score = mmr_score.copy()
    picked_cols = apply_order(cols, picks)
    mmr_score[rows[:, : picks.shape[1]][live], picked_cols[live]] = marginal[live]
    return new_cols, shift, mmr_score, before
