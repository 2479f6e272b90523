"""Tiny hand-built data sets for the candidate-source tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from workbench.data import make_synthetic
from workbench.data.dataset import SECONDS_PER_DAY, Dataset

NOW = 1_000_000_000


def build(pairs, n_users, n_items, days_ago=None, release_days_ago=None, available=None, features=None, genres=None):
    """A Dataset from ``(user, item)`` pairs; ``days_ago[k]`` dates pair ``k`` (default: in list order)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if days_ago is None:
        days_ago = np.linspace(len(pairs), 1, len(pairs)) / 1000.0
    ts = (NOW - np.asarray(days_ago, dtype=np.float64) * SECONDS_PER_DAY).astype(np.int64)
    inter = pd.DataFrame({"user": pairs[:, 0], "item": pairs[:, 1], "timestamp": ts, "rating": np.ones(len(pairs), np.float32)})
    rel = np.zeros(n_items) if release_days_ago is None else np.asarray(release_days_ago, dtype=np.float64)
    items = pd.DataFrame({
        "item_id": np.arange(n_items), "title": [f"item {i}" for i in range(n_items)], "category": np.zeros(n_items, np.int64),
        "release_ts": (NOW - rel * SECONDS_PER_DAY).astype(np.int64), "age_days": rel,
        "available": np.ones(n_items, bool) if available is None else np.asarray(available, bool),
        "promoted": np.zeros(n_items, bool),
    })  # fmt: skip
    users = pd.DataFrame({"user_id": np.arange(n_users) + 100, "age": 20 + np.arange(n_users) % 40})
    genres = np.eye(n_items, 3, dtype=np.float32) if genres is None else np.asarray(genres, np.float32)
    features = genres if features is None else np.asarray(features, np.float32)
    ds = Dataset("tiny", inter, items, users, genres, features, tuple(f"g{i}" for i in range(genres.shape[1])),
                 ("c",), NOW)  # fmt: skip
    return ds.with_interactions(inter)


def blocks(n_blocks=2, users_per_block=6, items_per_block=4, extra_users=0):
    """Block-diagonal world: user ``u`` of block ``b`` consumed every item of block ``b`` except
    the ``u % items_per_block``-th, and nothing outside the block; so the one unseen item of
    the user's own block is the right answer for every collaborative source.

    ``extra_users`` users without any history are appended (cold start).
    """
    pairs = [
        (b * users_per_block + u, b * items_per_block + i)
        for b in range(n_blocks) for u in range(users_per_block) for i in range(items_per_block)
        if i != u % items_per_block
    ]  # fmt: skip
    genres = np.zeros((n_blocks * items_per_block, n_blocks), np.float32)
    genres[np.arange(n_blocks * items_per_block), np.arange(n_blocks * items_per_block) // items_per_block] = 1
    return build(pairs, n_blocks * users_per_block + extra_users, n_blocks * items_per_block, genres=genres)


def missing_item(user, users_per_block=6, items_per_block=4):
    """The one unseen item of ``user``'s own block in `blocks`."""
    return (user // users_per_block) * items_per_block + (user % users_per_block) % items_per_block


@pytest.fixture
def block_world():
    return blocks


@pytest.fixture
def missing():
    return missing_item


@pytest.fixture
def tiny_world():
    return build


@pytest.fixture(scope="session")
def synthetic_split():
    from workbench.data import temporal_split

    return temporal_split(make_synthetic(seed=0, n_users=200, n_items=150, impressions_per_user=50))


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    torch.set_num_threads(1)
