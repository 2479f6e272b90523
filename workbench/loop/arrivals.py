"""A living catalogue: items that arrive while the loop runs, new to every model version before them.

With ``arrivals_per_day = a`` and ``arrival_days = D`` (`workbench.loop.LoopConfig`), ``a · D`` items of
the world, drawn at random (seeded by the loop's seed), do not exist before the loop starts: ``a`` of
them arrive at the start of each day ``1 … D``. "Not existing" is made true of the data the models
learn from, not only of what is shown:

- `schedule`: the arrival day of every item (0: in the catalogue from the start);
- `catalogue_at_start`: the starting data without any interaction with an arriving item, the arriving
  items' release dates set to their arrival (so their age, and freshness, count from it);
- `arrivals_base`: the starting model fitted (the whole pipeline, ranker included: an item-id
  embedding learned from the arrivals' old interactions would leak them) on that data, kept in the
  model store under a key of its own, so a second loop with the same world and schedule loads it.

Until its day an arriving item is unavailable (stage 3 drops it, as it drops any unavailable item);
from then on it can be shown, clicked and, once the retraining job has seen its clicks, learned. The
world's truth (the simulated users' tastes) covers every item from the start, so an arriving item is
as appealing as the catalogue's average one, no more.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable

import numpy as np

from workbench.data.dataset import SECONDS_PER_DAY, Dataset
from workbench.loop.versions import Base, day_ts

Progress = Callable[[str], None]


def schedule(n_items: int, per_day: int, days: int, seed: int) -> np.ndarray:
    """int64 ``[n_items]``: the day each item arrives (0: present from the start; ``1 … days``: ``per_day`` items
    each day), the arriving items a seeded random draw from the catalogue."""
    n_new = int(per_day) * int(days)
    if n_new >= n_items:
        raise ValueError(f"arrivals_per_day={per_day} × arrival_days={days} = {n_new} arriving items: expected fewer "
                         f"than the catalogue's {n_items} items")  # fmt: skip
    out = np.zeros(n_items, np.int64)
    if n_new:
        chosen = np.random.default_rng(np.random.SeedSequence([int(seed), 0xA77])).choice(n_items, n_new, replace=False)
        out[chosen] = 1 + np.arange(n_new) // int(per_day)
    return out


def catalogue_at_start(train: Dataset, arrival: np.ndarray) -> Dataset:
    """``train`` as it was before any arriving item existed: no interaction with one, and each arriving item
    released at the start of its arrival day (its ``age_days`` negative until then)."""
    items = train.interactions["item"].to_numpy()
    kept = train.interactions[arrival[items] == 0]
    new = arrival > 0
    release = train.items["release_ts"].to_numpy(np.int64).copy()
    release[new] = day_ts(train, 0) + arrival[new] * int(SECONDS_PER_DAY)
    table = train.items.assign(release_ts=release,
                               age_days=(float(train.reference_ts) - release.astype(np.float64)) / SECONDS_PER_DAY)  # fmt: skip
    if "release_year" in table:
        import pandas as pd

        table["release_year"] = pd.to_datetime(release, unit="s").year.to_numpy()
    grown = train.with_interactions(kept, name=f"{train.name} before {int(new.sum())} arrivals")
    return dataclasses.replace(grown, items=table)


def arrivals_base(base: Base, arrival: np.ndarray, store, progress: Progress | None = None) -> Base:
    """``base`` with its pipeline fitted again on `catalogue_at_start` (loaded from ``store`` when fitted before)."""
    from workbench.pipeline import Pipeline
    from workbench.store import code_version, load_pipeline, save_pipeline
    from workbench.store.codec import ArtefactError

    say = progress or (lambda _msg: None)
    train = catalogue_at_start(base.train, arrival)
    blob = json.dumps({"base": base.key, "arrivals": train.fingerprint, "code": code_version()}, sort_keys=True)
    key = hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()
    folder = store.path(key)
    t0 = time.perf_counter()
    if folder.is_dir():
        try:
            pipe = load_pipeline(folder, train)
            pipe.config = base.pipeline.config
            return dataclasses.replace(base, pipeline=pipe, train=train, key=key,
                                       description=f"{base.description}; without the {int((arrival > 0).sum())} arriving "
                                                   f"items: artefact {key} loaded in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        except ArtefactError as exc:
            say(f"the arrivals' starting model {key} could not be loaded ({exc}); fitting it again")
    say(f"fitting the starting model without the {int((arrival > 0).sum())} items that arrive during the loop")
    pipe = Pipeline(base.pipeline.config).fit(train, progress=say)
    save_pipeline(pipe, folder, None, key)
    return dataclasses.replace(base, pipeline=pipe, train=train, key=key,
                               description=f"{base.description}; fitted again without the {int((arrival > 0).sum())} "
                                           f"arriving items as {key} in {time.perf_counter() - t0:.1f} s")  # fmt: skip


def fresh_items(arrival_ts: np.ndarray, ts: int, train: Dataset) -> np.ndarray:
    """The items of the fresh-arrivals source at time ``ts``: arrived by then (``arrival_ts <= ts``, arriving items
    only) and not yet in the model version's training data (no interaction in ``train``)."""
    arrived = (arrival_ts <= ts) & (arrival_ts > np.iinfo(np.int64).min)
    return np.flatnonzero(arrived & (train.item_popularity == 0))


def with_fresh(cands, fresh: np.ndarray):
    """``cands`` (a `workbench.types.CandidateSet`) with the ``fresh`` items a row lacks appended to it, after its own
    items: proposed by no source (bitmask 0, no source rank or score), scored below the row's lowest score.

    The loop calls it twice. Before stage 2, on the sources' candidates: the ranker scores the fresh items like any
    candidate (they have no history: ``item_is_new``, genres, age) and keeps those it ranks in its top ``n_ranked``.
    After stage 2, on the ranked pool: the fresh items the ranker did not keep go below it, where a greedy slate
    never reaches and exploration (which draws from the pool below the slate) can.
    """
    from workbench.lists import compact
    from workbench.types import PAD, CandidateSet

    fresh = np.asarray(fresh, np.int64)
    n_users, m = cands.items.shape[0], len(fresh)
    if not m:
        return cands
    real = cands.items >= 0
    low = np.where(real, cands.scores, np.inf).min(axis=1) - 1.0
    low = np.where(np.isfinite(low), low, 0.0)
    have = np.zeros((n_users, m), bool)  # fresh items a row holds already
    pos = np.searchsorted(np.sort(fresh), cands.items)
    order_fresh = np.argsort(fresh)
    hit = real & (pos < m) & (np.sort(fresh)[np.minimum(pos, m - 1)] == cands.items)
    r, c = np.nonzero(hit)
    have[r, order_fresh[pos[r, c]]] = True
    block = np.where(have, PAD, fresh[None, :])

    def grow(a, fill, extra):
        if a is None:
            return None
        add = np.full((n_users, m, *a.shape[2:]), fill, a.dtype) if extra is None else extra.astype(a.dtype)
        return np.concatenate([a, add], axis=1)

    items = grow(cands.items, PAD, block)
    order = compact(items >= 0)  # padding back at the end of each row

    def gather(a, fill):
        if a is None:
            return None
        idx = np.maximum(order, 0).reshape(order.shape + (1,) * (a.ndim - 2))
        out = np.take_along_axis(a, idx, axis=1)
        out[order < 0] = fill
        return out

    scores = grow(cands.scores, -np.inf, np.where(have, -np.inf, low[:, None]))
    return CandidateSet(cands.users, gather(items, PAD), gather(scores, -np.inf), gather(grow(cands.sources, 0, None), 0),
                        cands.source_names, gather(grow(cands.source_ranks, -1, None), -1),
                        gather(grow(cands.source_scores, np.nan, None), np.nan))  # fmt: skip
