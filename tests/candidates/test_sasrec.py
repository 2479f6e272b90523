"""SASRec: causal attention, padding, learning a known sequence rule, sessions, seeds, the store."""

import numpy as np
import pandas as pd
import pytest
import torch

from workbench.candidates import SOURCES, SASRec
from workbench.candidates.sasrec import SASRecNet, left_padded
from workbench.data.dataset import Dataset
from workbench.store.codec import read_state, write_state

N_ITEMS = 12


def successor(i):
    """The world's rule: after item i comes item (i + 1) mod N_ITEMS."""
    return (np.asarray(i) + 1) % N_ITEMS


def cycle(n_items=N_ITEMS, n_users=30):
    """``n_users`` users, each walking the cycle 0 → 1 → … → n_items − 1 → 0 from their own start
    for 6 to 9 steps; one more user without history."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(n_users):
        start, n = int(rng.integers(n_items)), int(rng.integers(6, 10))
        rows += [(u, (start + step) % n_items, 1_000_000 + 3600 * step) for step in range(n)]
    inter = pd.DataFrame(rows, columns=["user", "item", "timestamp"]).assign(rating=np.float32(1.0))
    items = pd.DataFrame({"item_id": np.arange(n_items), "title": [f"item {i}" for i in range(n_items)],
                          "category": 0, "release_ts": 0, "age_days": 10.0, "available": True, "promoted": False})
    users = pd.DataFrame({"user_id": np.arange(n_users + 1)})
    genres = np.ones((n_items, 1), np.float32)
    return Dataset("cycle", inter, items, users, genres, genres, ("g",), ("c",), 1_100_000).with_interactions(inter)


@pytest.fixture(scope="module")
def cycle_world():
    return cycle()


@pytest.fixture(scope="module")
def fitted(cycle_world):
    return SASRec(dim=16, blocks=1, max_len=8, dropout=0.0, epochs=150, batch_size=32, lr=5e-3, seed=1).fit(cycle_world)


def test_left_padded_keeps_the_last_items_in_order():
    rows = np.array([0, 0, 0, 2])
    items = np.array([5, 6, 7, 9])
    # tokens are items + 1; row 1 is empty; row 0 keeps its last 2 of 3
    np.testing.assert_array_equal(left_padded(rows, items, 3, 2), [[7, 8], [0, 0], [0, 10]])


def test_attention_is_causal_a_future_item_cannot_change_an_earlier_output():
    torch.manual_seed(0)
    net = SASRecNet(n_items=20, max_len=6, dim=8, blocks=2, heads=2, dropout=0.0).eval()
    a = torch.tensor([[0, 0, 3, 4, 5, 6]])
    b = torch.tensor([[0, 0, 3, 4, 5, 19]])  # only the last item differs
    with torch.no_grad():
        ha, hb = net(a), net(b)
    torch.testing.assert_close(ha[:, :5], hb[:, :5])
    assert not torch.allclose(ha[:, 5], hb[:, 5])
    c = torch.tensor([[0, 0, 3, 17, 5, 6]])  # an earlier item changes every later output
    with torch.no_grad():
        hc = net(c)
    torch.testing.assert_close(ha[:, :3], hc[:, :3])
    assert all(not torch.allclose(ha[:, t], hc[:, t]) for t in range(3, 6))


def test_left_padding_does_not_change_the_outputs_and_padding_outputs_are_zero():
    torch.manual_seed(0)
    net = SASRecNet(n_items=20, max_len=6, dim=8, blocks=2, heads=1, dropout=0.0).eval()
    with torch.no_grad():
        long = net(torch.tensor([[0, 0, 0, 3, 4, 5]]))
        short = net(torch.tensor([[3, 4, 5]]))
    torch.testing.assert_close(long[:, 3:], short)
    assert long[:, :3].abs().max() == 0


def test_learns_the_successor_rule(fitted):
    starts = np.arange(N_ITEMS)
    scores = fitted.sequence_scores([[s, (s + 1) % N_ITEMS] for s in starts])
    np.testing.assert_array_equal(scores.argmax(axis=1), successor(starts + 1))
    assert fitted.losses_[-1] < 0.5 * fitted.losses_[0]


def test_retrieve_follows_each_users_last_item(cycle_world, fitted):
    users = np.arange(30)
    cs = fitted.retrieve(users, k=1, exclude_seen=False)
    last = np.array([cycle_world.interactions.query("user == @u")["item"].iloc[-1] for u in users])
    np.testing.assert_array_equal(cs.items[:, 0], successor(last))
    assert cs.source_names == ("sasrec",)


def test_session_is_appended_and_never_recommended_back(cycle_world, fitted):
    cold = 30
    popular = fitted.retrieve([cold], k=3).items[0]
    cs = fitted.retrieve([cold, 0], k=3, session=[[4, 5], []])
    assert cs.items[0, 0] == 6  # the session alone decides for a user without history
    assert not {4, 5} & set(cs.items[0].tolist()) and cs.items[0].tolist() != popular.tolist()
    np.testing.assert_array_equal(cs.items[1], fitted.retrieve([0], k=3).items[0])  # empty session: unchanged
    after = int(successor(cycle_world.interactions.query("user == 0")["item"].iloc[-1]))  # user 0's next step
    user0 = fitted.retrieve([0], k=2, exclude_seen=False, session=[[after]]).items[0]
    assert user0[0] == successor(after) and after not in user0


def test_session_and_sequence_errors_name_the_value(fitted):
    with pytest.raises(ValueError, match="2 rows for 1 users"):
        fitted.retrieve([0], k=3, session=[[1], [2]])
    with pytest.raises(ValueError, match=r"unknown item index\(es\) \[12\]; expected 0\.\.11"):
        fitted.retrieve([0], k=3, session=[[1, 12]])
    with pytest.raises(ValueError, match=r"unknown item index\(es\) \[-1\]"):
        fitted.sequence_scores([[-1]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"dim": 10, "heads": 3}, "divisible by heads=3"), ({"loss": "hinge"}, "loss='hinge'"),
     ({"dropout": 1.0}, r"dropout=1\.0"), ({"max_len": 0}, "max_len must be an integer >= 1, got 0"),
     ({"lr": 0.0}, r"lr=0\.0")],
)  # fmt: skip
def test_bad_hyper_parameters_are_refused_before_fitting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SASRec(**kwargs)


def test_same_seed_same_vectors_other_seed_other_vectors(cycle_world):
    kw = dict(dim=8, blocks=1, max_len=8, epochs=3, batch_size=8)
    a, b, c = (SASRec(**kw, seed=s).fit(cycle_world) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.user_vectors_, b.user_vectors_)
    np.testing.assert_array_equal(a.item_vectors_, b.item_vectors_)
    assert not np.allclose(a.item_vectors_, c.item_vectors_)


def test_paper_loss_with_sampled_negatives_also_learns_the_rule():
    """One sampled negative per position needs a sparser world than the full softmax (each user sees
    at most 9 of 40 items, so most items are eligible negatives), and it only pushes the right item
    above *unseen* items: items of the sequence itself are never negatives and may outscore it. So
    the rule's item must be in the top 3 (chance: 3/40), not necessarily first."""
    n = 40
    src = SASRec(dim=16, blocks=1, max_len=8, dropout=0.0, epochs=200, batch_size=32, lr=5e-3, loss="bce", seed=0)
    src.fit(cycle(n_items=n, n_users=80))
    scores = src.sequence_scores([[s, (s + 1) % n] for s in range(n)])
    top3 = np.argsort(-scores, axis=1)[:, :3]
    assert (top3 == ((np.arange(n) + 2) % n)[:, None]).any(axis=1).mean() >= 0.95


def test_negatives_are_uniform_over_the_users_unseen_items(cycle_world):
    src = SASRec(epochs=1).fit(cycle_world)
    users = np.repeat(np.arange(30), 3000)
    neg = src._negatives(users, np.random.default_rng(0))
    seen = cycle_world.matrix.toarray() > 0
    assert not seen[users, neg].any()
    counts = np.zeros((30, N_ITEMS))
    np.add.at(counts, (users, neg), 1)
    unseen = ~seen[:30]
    share = counts / 3000
    expected = np.where(unseen, 1.0 / unseen.sum(axis=1, keepdims=True), 0.0)
    np.testing.assert_allclose(share, expected, atol=0.035)  # 3000 draws over at most 6 items: sd < 0.01


def test_user_vectors_from_a_shorter_history(cycle_world, fitted):
    full = fitted.user_vectors([0, 1])
    np.testing.assert_array_equal(full, fitted.user_vectors_[[0, 1]])
    one = fitted.user_vectors([0, 1], last=1)
    last = [cycle_world.interactions.query("user == @u")["item"].iloc[-1] for u in (0, 1)]
    np.testing.assert_allclose(one @ fitted.item_vectors_.T, fitted.sequence_scores([[i] for i in last]), rtol=1e-5, atol=1e-5)


def test_registered_and_stored_without_pickle(tmp_path, cycle_world, fitted):
    assert SOURCES["sasrec"] is SASRec
    write_state(fitted, tmp_path)
    back = read_state(tmp_path, {cycle_world.fingerprint: cycle_world})
    np.testing.assert_array_equal(back.retrieve(np.arange(31), 4).items, fitted.retrieve(np.arange(31), 4).items)
    np.testing.assert_allclose(back.sequence_scores([[2, 3]]), fitted.sequence_scores([[2, 3]]), rtol=1e-6)


def test_warm_start_continues_from_an_earlier_fit(cycle_world, fitted):
    kw = dict(dim=16, blocks=1, max_len=8, dropout=0.0, epochs=150, batch_size=32, lr=5e-3, seed=1)
    warm = SASRec(**kw, warm_epochs=2).fit_warm(cycle_world, fitted)
    assert len(warm.losses_) == 2
    assert warm.losses_[0] < 0.5 * SASRec(**{**kw, "epochs": 1}).fit(cycle_world).losses_[0]  # starts where it left
    cold = SASRec(**kw, warm_epochs=None).fit_warm(cycle_world, fitted)
    np.testing.assert_array_equal(cold.item_vectors_, fitted.item_vectors_)  # None: a plain fit (same seed)
    with pytest.raises(ValueError, match=r"\(items, max_len, dim, blocks, heads\) = \(12, 8, 16, 1, 1\)"):
        SASRec(dim=8, max_len=8, blocks=1).fit_warm(cycle_world, fitted)


def test_history_windows_cut_the_whole_history_so_each_item_is_a_target_once():
    from workbench.candidates.sasrec import history_windows

    users = np.array([0] * 7 + [1] * 2 + [2])  # user 0: items 0..6 in time order; user 1: 7, 8; user 2: 9
    windows, owner = history_windows(users, np.arange(10), n_users=3, max_len=3, every=True)
    # tokens are items + 1; user 0's latest window (items 3-6) shares item 3 with the older one (items 0-3)
    np.testing.assert_array_equal(windows, [[4, 5, 6, 7], [1, 2, 3, 4], [0, 0, 8, 9], [0, 0, 0, 10]])
    np.testing.assert_array_equal(owner, [0, 0, 1, 2])
    targets = np.sort(np.concatenate([w[1:][(w[:-1] > 0) & (w[1:] > 0)] for w in windows]) - 1)
    np.testing.assert_array_equal(targets, [1, 2, 3, 4, 5, 6, 8])  # every item but each user's first, once
    latest, owner = history_windows(users, np.arange(10), n_users=3, max_len=3, every=False)
    np.testing.assert_array_equal(latest, windows[[0, 2, 3]])
    np.testing.assert_array_equal(owner, [0, 1, 2])
