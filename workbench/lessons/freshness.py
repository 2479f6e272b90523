"""Freshness decay across its range (notebook 04): what each decay does to the slate's age, and why.

The boost is 1 + w·e^(−decay·age/30) (`workbench.rerank.freshness`). Its decay decides *which* items
it favours: an item gets at least half of the boost's weight while younger than the half-boost age
30·ln 2 / decay days. At a decay near 0 every item gets almost the same boost (the order hardly
changes); at a large decay only the newest items get any. The slate's age moves most in between, where
the half-boost age falls inside the spread of the candidates' ages. `decay_sweep` measures that for
every user at each decay; `half_boost_age` gives the age.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import pandas as pd

from workbench.metrics.beyond import mean_item_age
from workbench.rerank.freshness import DAYS_PER_UNIT


def half_boost_age(decay: float) -> float:
    """Days of age at which the boost falls to half its weight (inf at decay 0: every item keeps it all)."""
    if not math.isfinite(decay) or decay < 0:
        raise ValueError(f"decay={decay!r}: expected a finite number >= 0")
    return math.inf if decay == 0 else DAYS_PER_UNIT * math.log(2.0) / decay


def decay_sweep(whatif, decays: Iterable[float], knobs=None) -> pd.DataFrame:
    """Per-user mean age (days) of the slate at each decay, the other knobs as ``knobs`` (default the
    what-if's own): one column per decay, one row per user of the what-if (NaN for empty slates)."""
    base = knobs or whatif.knobs
    ages = whatif.train.item_age_days
    out = {}
    for d in decays:
        slate = whatif.slate(dataclasses.replace(base, freshness_decay=float(d)))
        out[float(d)] = mean_item_age(slate.items, ages)
    return pd.DataFrame(out)
