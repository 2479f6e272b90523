"""Notebook 11's back-end: the textbook's three case studies, each recipe and each measurement.

- the recipes: `recipe` reads ``configs/casestudies/<company>.toml`` (a `PipelineConfig` anyone
  can run with ``workbench evaluate --model pipeline --config ...``);
- `basis`: the data, its temporal split, its truth (the synthetic world's or the MovieLens
  oracle) and EASE scores that seed the rows, pools and item pages;
- YouTube: `freshness` (example age on and off), `watch` (click- against watch-time-trained);
- Amazon: `pipeline_table` (default against default + SASRec), `item_options`, `replay_user`;
- Netflix: `bandits` (Thompson sampling, LinUCB and ε-greedy at the bandit's budget), `multitask`.

Sizes follow the settings: the small world runs everything in seconds.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.candidates import EASE
from workbench.casestudies.bandit import BanditComparison, BanditConfig, row_world, run_bandits
from workbench.casestudies.freshness import ExampleAgeModel, FreshConfig, FreshWorld, fit_both
from workbench.casestudies.multitask import MultiTaskConfig, compare_multitask
from workbench.casestudies.watchtime import WatchSetup, compare_objectives, watch_setup
from workbench.data import temporal_split
from workbench.data.dataset import Dataset
from workbench.experiment.oracle import world_for
from workbench.lessons import kit
from workbench.pipeline import PipelineConfig

CONFIG_DIR = kit.ROOT / "configs" / "casestudies"
COMPANIES = ("YouTube", "Amazon", "Netflix")
K = 10
DAYS = 30  # simulated days of the bandit comparison
MULTITASK_WEIGHTS = (0.1, 0.3, 0.5, 0.7, 0.9)  # the multi-task slider's steps


def recipe_path(company: str) -> Path:
    if company not in COMPANIES:
        raise ValueError(f"unknown company {company!r}: expected one of {COMPANIES}")
    return CONFIG_DIR / f"{company.lower()}.toml"


def recipe(company: str, s: kit.NotebookSettings) -> PipelineConfig:
    """The company's recipe as a pipeline config, with the settings' seed."""
    return dataclasses.replace(PipelineConfig.from_toml(recipe_path(company)), seed=s.seed)


def recipe_text(company: str) -> str:
    return recipe_path(company).read_text(encoding="utf-8")


@dataclass(eq=False)
class Basis:
    ds: Dataset
    train: Dataset
    test: Dataset
    world: object

    @functools.cached_property
    def scores(self) -> np.ndarray:
        """EASE (λ = 250) scores, [n_users, n_items], fitted on first use: a page whose studies are read back
        from disk shows the split without fitting EASE."""
        return EASE().fit(self.train)._score(np.arange(self.train.n_users))


def basis(s: kit.NotebookSettings) -> Basis:
    ds = kit.dataset(s)
    train, test = temporal_split(ds)
    return Basis(ds, train, test, world_for(ds))


# --- YouTube --------------------------------------------------------------------------------------------
def fresh_config(s: kit.NotebookSettings) -> FreshConfig:
    return FreshConfig(n_items=150, days=30, events_per_day=1000, seed=s.seed) if s.small else FreshConfig(seed=s.seed)


def freshness(s: kit.NotebookSettings) -> tuple[FreshWorld, dict[str, ExampleAgeModel]]:
    """The fresh-burst world and the same log fitted without and with example age."""
    world = FreshWorld(fresh_config(s))
    return world, fit_both(world, max_iter=150 if s.small else 300)


def watch(b: Basis, s: kit.NotebookSettings) -> tuple[WatchSetup, pd.DataFrame]:
    """The watch-time world (item durations, clickbait), its logs, and click- against watch-trained LR."""
    setup = watch_setup(b.train, b.world, b.scores, pool=30 if s.small else 50,
                        impressions_per_user=3 if s.small else 5, seed=s.seed)  # fmt: skip
    return setup, compare_objectives(setup, k=K)


# --- Amazon ---------------------------------------------------------------------------------------------
def pipeline_table(b: Basis, pipelines: dict[str, object]) -> pd.DataFrame:
    """NDCG, recall, intra-list diversity and coverage at K of each fitted pipeline, all test users."""
    users = np.flatnonzero(b.test.user_activity > 0)
    rows = {}
    for name, pipe in pipelines.items():
        m = pipe.evaluate(pipe.recommend(users, K), b.test).set_index("metric")["mean"]
        rows[name] = {f"NDCG@{K}": m["ndcg"], f"recall@{K}": m["recall"], "intra-list diversity": m["intra_list_diversity"],
                      "coverage": m["catalogue_coverage"]}  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index")


def item_options(train: Dataset, n: int = 25) -> dict[str, int]:
    """The ``n`` most popular items, "title" → item index, for the item-page picker."""
    top = np.argsort(-train.item_popularity, kind="stable")[:n]
    titles = train.items["title"].to_numpy(dtype=str)
    return {f"{titles[i]} (#{i})": int(i) for i in top}


def replay_user(b: Basis, min_clicks: int = 6) -> tuple[int, np.ndarray]:
    """The first user with at least ``min_clicks`` test items, and those items in time order (a session to replay)."""
    counts = b.test.user_activity
    user = int(np.flatnonzero(counts >= min_clicks)[0])
    inter = b.test.interactions
    return user, inter.loc[inter["user"] == user, "item"].to_numpy()


# --- Netflix --------------------------------------------------------------------------------------------
def bandits(b: Basis, s: kit.NotebookSettings, bandit: str = "thompson") -> BanditComparison:
    world = row_world(b.train, b.world, b.scores, n_rows=6 if s.small else 8, row_length=K)
    return run_bandits(world, BanditConfig(days=DAYS, bandit=bandit, seed=s.seed))


def multitask(setup: WatchSetup, s: kit.NotebookSettings) -> pd.DataFrame:
    """The multi-task network at each slider weight, and the two single-task networks."""
    return compare_multitask(setup, MULTITASK_WEIGHTS, k=K, config=MultiTaskConfig(epochs=10 if s.small else 20, seed=s.seed))


def regret_long(cmp: BanditComparison) -> pd.DataFrame:
    """The cumulative-regret curves as long rows (day, policy, cumulative regret) for a line chart."""
    curves = cmp.curves().reset_index()
    return curves.melt(id_vars="day", var_name="policy", value_name="cumulative regret")
