import numpy as np
import pandas as pd
import pytest

from workbench.data import make_synthetic
from workbench.data.dataset import Dataset
from workbench.experiment.oracle import calibrate_offsets, ease_scores, fit_oracle, world_for
from workbench.experiment.rankers import make_ranker, noisy_oracle_ranker, popularity_ranker
from workbench.types import Slate


def tiny_dataset(pairs, n_users, n_items) -> Dataset:
    users, items = zip(*pairs)
    inter = pd.DataFrame({"user": users, "item": items, "timestamp": np.arange(len(pairs)), "rating": 1.0})
    item_table = pd.DataFrame({
        "item_id": np.arange(n_items), "title": [f"t{i}" for i in range(n_items)], "category": 0,
        "release_ts": 0, "age_days": 1.0, "available": True, "promoted": False,
    })  # fmt: skip
    return Dataset("tiny", inter, item_table, pd.DataFrame({"user_id": np.arange(n_users)}),
                   np.ones((n_items, 1), np.float32), np.ones((n_items, 1), np.float32), ("g",), ("c",), 10)  # fmt: skip


@pytest.fixture(scope="module")
def world():
    return make_synthetic(n_users=400, n_items=300, impressions_per_user=60, seed=5)


def test_ease_recommends_the_co_occurring_item():
    # items 0 and 1 always appear together; items 2, 3 together; user 6 has only item 0
    pairs = [(u, i) for u in range(3) for i in (0, 1)] + [(u, i) for u in range(3, 6) for i in (2, 3)] + [(6, 0)]
    scores = ease_scores(tiny_dataset(pairs, 7, 4), l2=1.0)
    assert np.argmax(scores[6, 1:]) + 1 == 1
    assert scores[6, 2] == pytest.approx(0.0) and scores[6, 3] == pytest.approx(0.0)


def test_calibration_hits_the_base_rate_for_every_user():
    z = np.random.default_rng(0).normal(size=(50, 200))
    b = calibrate_offsets(z, sharpness=0.7, base_rate=0.25, top_n=10)
    top = -np.sort(-z, axis=1)[:, :10]
    assert np.allclose((1 / (1 + np.exp(-(0.7 * top + b[:, None])))).mean(1), 0.25, atol=1e-9)
    with pytest.raises(ValueError, match="base_rate"):
        calibrate_offsets(z, 0.7, 1.5)


def test_oracle_interface_and_real_signal(world):
    oracle = fit_oracle(world, base_rate=0.3)
    users = np.arange(world.n_users)
    p_all = oracle.true_affinity(users, np.arange(world.n_items))
    assert p_all.shape == (world.n_users, world.n_items) and ((p_all > 0) & (p_all < 1)).all()
    assert np.allclose(np.sort(p_all, 1)[:, -10:].mean(1), 0.3)
    per_row = oracle.true_affinity(users[:3], np.array([[0, 5, -1]] * 3))
    assert per_row[:, 2].tolist() == [0, 0, 0] and per_row[1, 1] == p_all[1, 5]
    # learned from the logged clicks, its top-10 are truly better than the popular items
    ranker = noisy_oracle_ranker(oracle, world.n_users, world.n_items, 10, 0.0)
    truth = world.truth.true_affinity
    learned = truth(users, ranker(users)).mean()
    popular = truth(users, popularity_ranker(world.item_popularity, world.n_users)(users)).mean()
    assert learned > popular
    assert world_for(world) is world.truth
    with pytest.raises(IndexError, match="user ids span"):
        oracle.true_affinity(np.array([world.n_users]), np.array([0]))


def test_noisy_oracle_gets_worse_with_noise(world):
    users = np.arange(world.n_users)
    truth = world.truth.true_affinity
    quality = [truth(users, noisy_oracle_ranker(world.truth, world.n_users, world.n_items, 10, s, 1)(users)).mean()
               for s in (0.0, 1.0, 3.0)]  # fmt: skip
    assert quality[0] > quality[1] > quality[2]
    best = noisy_oracle_ranker(world.truth, world.n_users, world.n_items, 10, 0.0)(users[:5])
    ref = np.argsort(-truth(users[:5], np.arange(world.n_items)), axis=1)[:, :10]
    assert np.array_equal(best, ref)


def test_make_ranker_specs(world):
    users = np.arange(5)
    pop = make_ranker("popularity", world, world.truth)(users)
    assert (pop == pop[0]).all() and pop.shape == (5, 10)
    assert len(set(make_ranker("random", world, world.truth, k=7)(users)[0])) == 7
    same = make_ranker("noisy:1.5", world, world.truth)(users), make_ranker("noisy:1.5", world, world.truth)(users)
    assert np.array_equal(*same)
    slate_ranker = lambda u: Slate(u, np.zeros((len(u), 3), dtype=int), np.zeros((len(u), 3)))  # noqa: E731
    assert make_ranker(slate_ranker, world, world.truth) is slate_ranker
    with pytest.raises(ValueError, match="unknown ranker spec 'best'"):
        make_ranker("best", world, world.truth)
    with pytest.raises(ValueError, match="noisy:<sigma>"):
        make_ranker("noisy:abc", world, world.truth)
    with pytest.raises(ValueError, match="k=400"):
        make_ranker("popularity", world, world.truth, k=400)
