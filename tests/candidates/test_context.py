"""Request-time context: the session reaches session-aware sources through stage 1 and the pipeline."""

import numpy as np
import pytest

from workbench.candidates import EASE, CandidateGenerator, SASRec
from workbench.candidates.context import session_retrieve, split_context
from workbench.ranking.features import Context


def test_split_context_separates_ranker_context_and_session():
    ctx = Context(timestamp=5)
    assert split_context(ctx, 2) == (ctx, None)
    assert split_context(None, 2) == (None, None)
    ranking, session = split_context({"session": [[1, 2], []], "timestamp": 7}, 2)
    assert ranking == Context(7, None) and session == [[1, 2], []]
    assert split_context({"session": [3, 4]}, 1) == (None, [[3, 4]])  # one user's flat list


@pytest.mark.parametrize(
    ("context", "message"),
    [({"sesion": [[1]]}, r"unknown context key\(s\) \['sesion'\]"), ({"session": [[1], [2]]}, "2 item lists for 1 users"),
     ({"session": "abc"}, "list of item lists"), ({"device": [1]}, "device but no timestamp"),
     (42, "got int")],
)  # fmt: skip
def test_bad_context_is_named(context, message):
    with pytest.raises(ValueError, match=message):
        split_context(context, 1)


@pytest.fixture(scope="module")
def generator(synthetic_split):
    train, _ = synthetic_split
    sources = {"ease": EASE(), "sasrec": SASRec(dim=16, blocks=1, max_len=20, epochs=3, seed=0)}
    return CandidateGenerator(sources, use_quotas=False, per_source_k=40).fit(train)


def test_session_reaches_sasrec_only_and_its_items_leave_the_fused_list(generator):
    users = np.array([0, 1])
    session = [[5, 6, 7], []]
    plain = generator.retrieve(users, 30)
    with_session = session_retrieve(generator, users, 30, session)
    assert not {5, 6, 7} & set(with_session.items[0].tolist())
    np.testing.assert_array_equal(with_session.items[1], plain.items[1])  # empty session: same list
    ease_col = with_session.source_names.index("ease")
    sasrec_col = with_session.source_names.index("sasrec")
    # EASE does not read sessions: its ranks are unchanged for items both lists hold
    expected_ease = generator.sources["ease"].retrieve(users[:1], 40).items[0]
    proposed = with_session.source_ranks[0, :, ease_col] >= 0
    np.testing.assert_array_equal(expected_ease[with_session.source_ranks[0, proposed, ease_col]],
                                  with_session.items[0, proposed])  # fmt: skip
    direct = generator.sources["sasrec"].retrieve(users[:1], 40, session=session[:1]).items[0]
    by_sasrec = with_session.source_ranks[0, :, sasrec_col] >= 0
    np.testing.assert_array_equal(direct[with_session.source_ranks[0, by_sasrec, sasrec_col]], with_session.items[0, by_sasrec])


def test_session_item_out_of_range_is_named(generator):
    n = generator.seen_.shape[1]
    with pytest.raises(ValueError, match=rf"unknown item index\(es\) \[{n}\]"):
        session_retrieve(generator, np.array([0]), 10, [[n]])


def test_pipeline_recommend_passes_the_session(synthetic_split):
    from workbench.pipeline import Pipeline, PipelineConfig
    from workbench.ranking import TrainConfig

    train, _ = synthetic_split
    cfg = PipelineConfig(weights={"ease": 1.0, "sasrec": 1.0, "popular": 1.0}, n_candidates=60, n_ranked=30,
                         source_params={"sasrec": {"dim": 16, "blocks": 1, "max_len": 20, "epochs": 2}},
                         ranker="gbdt", train=TrainConfig(epochs=1), per_source_k=60)  # fmt: skip
    pipe = Pipeline(cfg).fit(train)
    users = np.array([3, 4])
    plain = pipe.recommend(users, 10)
    session = [[int(i) for i in plain.items[0, :3]], []]  # the user "clicks" their top three
    slate = pipe.recommend(users, 10, context={"session": session})
    assert not set(session[0]) & set(slate.items[0].tolist())
    assert slate.items[0].tolist() != plain.items[0].tolist()
    cands = slate.stages["candidates"]
    assert not set(session[0]) & set(cands.items[0].tolist())
    with pytest.raises(ValueError, match="unknown context key"):
        pipe.recommend(users, 10, context={"basket": []})
