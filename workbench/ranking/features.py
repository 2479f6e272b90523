"""Features for (user, candidate) pairs: user, item, context, cross and candidate-source signals.

`FEATURES` is the one table of definitions (name, group, kind, meaning); names with
``<genre>`` / ``<source>`` expand to one column per genre / candidate source.
`FeatureBuilder.fit(history)` computes every statistic from a history Dataset only
(so features of a training pair never see the future it is labelled with), then
`transform` builds features for N pairs with array gathers, and `build` does it for a
whole `CandidateSet` ``[U, n]``.

Unknown inputs get neutral values and never NaN: users or items outside the fitted
tables (or without history) take a cold-start row, categorical codes outside the
fitted vocabulary map to bucket 0, and a source the candidates lack is "not proposed"
(indicator 0, reciprocal rank 0, score z 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from workbench.data.dataset import SECONDS_PER_DAY, Dataset
from workbench.types import CandidateSet

DEVICES = ("mobile", "desktop", "tv")
USER_STATIC = ("user_log_activity", "user_mean_rating", "user_is_cold")  # then the genre profile
ITEM_STATIC = ("item_log_popularity", "item_log_trend", "item_mean_rating", "item_available", "item_promoted",
               "item_is_new")  # then the genres  # fmt: skip
AGE_BINS = (18, 25, 35, 45, 50, 56)  # MovieLens-1M age brackets; bucket 0 = age unknown


@dataclass(frozen=True)
class FeatureDef:
    name: str
    group: str  # user | item | context | cross | source
    kind: str  # numeric | binary | categorical
    meaning: str


FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef("user", "user", "categorical", "user index + 1 (0: user not in the fitted table)"),
    FeatureDef("user_gender", "user", "categorical", "gender code from the users table (0: unknown)"),
    FeatureDef("user_occupation", "user", "categorical", "occupation code from the users table (0: unknown)"),
    FeatureDef("user_age_bucket", "user", "categorical", f"age bracket, edges {AGE_BINS} years (0: unknown)"),
    FeatureDef("user_log_activity", "user", "numeric", "log(1 + interactions in history)"),
    FeatureDef("user_mean_rating", "user", "numeric", "mean rating, shrunk to the global mean by `rating_prior` votes"),
    FeatureDef("user_is_cold", "user", "binary", "1 when the user has no history (profile = catalogue mix)"),
    FeatureDef("user_genre_<genre>", "user", "numeric", "share of the user's history in this genre (affinity profile)"),
    FeatureDef("user_log_tenure_days", "user", "numeric", "log(1 + days from first history interaction to request)"),
    FeatureDef("user_log_recency_days", "user", "numeric", "log(1 + days from last history interaction to request)"),
    FeatureDef("item", "item", "categorical", "item index + 1 (0: item not in the fitted catalogue)"),
    FeatureDef("item_category", "item", "categorical", "primary category code + 1 (0: unseen category)"),
    FeatureDef("item_log_popularity", "item", "numeric", "log(1 + history interactions with the item)"),
    FeatureDef("item_log_trend", "item", "numeric", "log(1 + interactions in the last `trend_days` of history)"),
    FeatureDef("item_mean_rating", "item", "numeric", "mean rating, shrunk to the global mean by `rating_prior` votes"),
    FeatureDef("item_available", "item", "binary", "1 when the item can be shown"),
    FeatureDef("item_promoted", "item", "binary", "1 when the item is promoted"),
    FeatureDef("item_is_new", "item", "binary", "1 when the item has no history interactions (or is unknown)"),
    FeatureDef("item_genre_<genre>", "item", "binary", "multi-hot genre of the item"),
    FeatureDef("item_log_age_days", "item", "numeric", "sign(a)·log(1 + |a|), a = days from release to request"),
    FeatureDef("hour", "context", "categorical", "hour of day (UTC) of the request + 1"),
    FeatureDef("weekday", "context", "categorical", "day of week of the request + 1 (Monday = 1)"),
    FeatureDef("device", "context", "categorical", f"device + 1 in {DEVICES}; simulated when the data has none"),
    FeatureDef("cross_genre_affinity", "cross", "numeric", "user genre profile · item genres / number of item genres"),
    FeatureDef("cross_svd_dot", "cross", "numeric", "<user, item> of a rank-`embedding_dim` truncated SVD of history"),
    FeatureDef("cross_recent_sim", "cross", "numeric", "cosine(item SVD vector, mean of the user's last `recent_items`)"),
    FeatureDef("fused_rr", "source", "numeric", "1 / (1 + position by fused candidate score); 0 outside candidates"),
    FeatureDef("n_sources", "source", "numeric", "number of candidate sources proposing the item"),
    FeatureDef("src_<source>_in", "source", "binary", "1 when the source proposed the item"),
    FeatureDef("src_<source>_rr", "source", "numeric", "1 / (1 + the source's rank); 0 when not proposed"),
    FeatureDef("src_<source>_z", "source", "numeric", "source score z-scored within the user's row; 0 if not proposed"),
)


def feature_table() -> pd.DataFrame:
    """`FEATURES` as a DataFrame (name, group, kind, meaning), for notebooks and reports."""
    return pd.DataFrame([f.__dict__ for f in FEATURES])


@dataclass(frozen=True)
class FeatureConfig:
    """Knobs of the feature builder."""

    embedding_dim: int = 32  # rank of the truncated SVD behind cross_svd_dot / cross_recent_sim
    recent_items: int = 10  # history items that make the user's "recent taste"
    trend_days: float = 30.0
    rating_prior: float = 10.0
    device_shares: tuple[float, float, float] = (0.55, 0.30, 0.15)  # of DEVICES, for simulated devices
    seed: int = 0

    def __post_init__(self) -> None:
        if self.embedding_dim < 1 or self.recent_items < 1:
            raise ValueError(f"FeatureConfig: embedding_dim={self.embedding_dim}, recent_items={self.recent_items}; expected >= 1")
        if len(self.device_shares) != len(DEVICES) or abs(sum(self.device_shares) - 1.0) > 1e-6:
            raise ValueError(f"FeatureConfig.device_shares={self.device_shares}: expected {len(DEVICES)} shares summing to 1")


@dataclass(frozen=True)
class Context:
    """The request: Unix seconds per user ``[U]`` (or one for all) and optional device codes ``[U]``."""

    timestamp: np.ndarray | int
    device: np.ndarray | None = None


@dataclass(frozen=True)
class FeatureLayout:
    """Column names and categorical cardinalities (bucket 0 included): what a model is built for;
    plus the vocabularies the codes were assigned from (genders, occupations) and the genres."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    cardinalities: tuple[int, ...]
    sources: tuple[str, ...] = ()
    genders: tuple[str, ...] = ()
    occupations: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()


def simulated_device(users: np.ndarray, timestamps: np.ndarray, shares: Sequence[float]) -> np.ndarray:
    """Deterministic device code per request: a Knuth multiplicative hash of (user, day) mapped to ``shares``.

    The same user keeps one device through a UTC day and may switch on the next.
    """
    day = (np.asarray(timestamps, np.int64) // 86_400).astype(np.uint64)
    h = (np.asarray(users, np.int64).astype(np.uint64) * np.uint64(2654435761) + day * np.uint64(40503)) % np.uint64(2**32)
    return np.searchsorted(np.cumsum(shares)[:-1], h.astype(np.float64) / 2**32, side="right").astype(np.int64)


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _codes(values: pd.Series, vocab: tuple) -> np.ndarray:
    """1-based codes of ``values`` in ``vocab``; 0 for anything else."""
    return pd.Index(vocab).get_indexer(values.astype(str)).astype(np.int64) + 1


def _source_block(candidates: CandidateSet, sources: tuple[str, ...]) -> np.ndarray:
    """float32 ``[U, n, 2 + 3·S]``: fused_rr, n_sources, then (in, rr, z) per fitted source."""
    mask = candidates.mask
    U, n = candidates.items.shape
    out = np.zeros((U, n, 2 + 3 * len(sources)), dtype=np.float32)
    key = np.where(mask, candidates.scores, -np.inf)
    pos = np.empty((U, n), dtype=np.int64)
    np.put_along_axis(pos, np.argsort(-key, axis=1, kind="stable"), np.arange(n)[None, :], axis=1)
    out[..., 0] = np.where(mask, 1.0 / (1.0 + pos), 0.0)
    lookup = {name: j for j, name in enumerate(candidates.source_names)}
    for s, name in enumerate(sources):
        j = lookup.get(name)
        if j is None:
            continue
        c = 2 + 3 * s
        if candidates.source_ranks is not None:
            rank = candidates.source_ranks[..., j]
            has = (rank >= 0) & mask
            out[..., c + 1] = np.where(has, 1.0 / (1.0 + np.maximum(rank, 0)), 0.0)
        else:
            has = ((candidates.sources >> j) & 1).astype(bool) & mask
        if candidates.source_scores is not None:
            score = candidates.source_scores[..., j].astype(np.float64)
            ok = has & np.isfinite(score)
            cnt = np.maximum(ok.sum(1, keepdims=True), 1)
            x = np.where(ok, score, 0.0)
            mean = x.sum(1, keepdims=True) / cnt
            std = np.sqrt((np.where(ok, x - mean, 0.0) ** 2).sum(1, keepdims=True) / cnt)
            out[..., c + 2] = np.where(ok & (std > 1e-12), (x - mean) / np.maximum(std, 1e-12), 0.0)
        out[..., c] = has
    out[..., 1] = out[..., 2::3].sum(-1)
    return out


class FeatureBuilder:
    """Fits per-user and per-item statistics on a history Dataset and builds pair features from them.

    ``config`` is its only hyper-parameter. Learned in `fit`: ``layout_`` (columns, cardinalities,
    vocabularies), ``user_`` / ``item_`` (per-user and per-item tables with one extra row for
    unknown users/items), ``embeddings_`` (the SVD vectors), ``now_`` (the history's last
    timestamp: the default request time) and ``span_days_`` (its length in days).
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()

    @property
    def fitted(self) -> bool:
        return hasattr(self, "user_")

    def __repr__(self) -> str:
        return f"FeatureBuilder({self.config!r}{', fitted' if self.fitted else ''})"

    def fit(self, history: Dataset, sources: Sequence[str] = (), layout: FeatureLayout | None = None) -> FeatureBuilder:
        """Compute all statistics from ``history``; ``sources`` names the candidate sources to expect.

        With ``layout`` (a fitted builder's ``layout_``), columns, vocabularies and cardinalities are
        kept and ``sources`` is taken from it, so a model trained on one history can score with
        statistics refreshed from another (`with_history`).
        """
        cfg = self.config
        inter = history.interactions
        nu, ni, G = history.n_users, history.n_items, history.item_genres.shape[1]
        u, i = inter["user"].to_numpy(np.int64), inter["item"].to_numpy(np.int64)
        ts, r = inter["timestamp"].to_numpy(np.float64), inter["rating"].to_numpy(np.float64)
        users_t = history.users
        if layout is None:
            vocab = {
                col: tuple(sorted(users_t[col].astype(str).unique())) if col in users_t else ()
                for col in ("gender", "occupation")
            }
            card = (nu + 1, len(vocab["gender"]) + 1, len(vocab["occupation"]) + 1, len(AGE_BINS) + 2,
                    ni + 1, len(history.category_names) + 1, 25, 8, len(DEVICES) + 1)  # fmt: skip
            genres = [g.replace(" ", "_") for g in history.genre_names]
            numeric = (
                *USER_STATIC, *[f"user_genre_{g}" for g in genres], "user_log_tenure_days", "user_log_recency_days",
                *ITEM_STATIC, *[f"item_genre_{g}" for g in genres], "item_log_age_days",
                "cross_genre_affinity", "cross_svd_dot", "cross_recent_sim", "fused_rr", "n_sources",
                *[f"src_{s}_{k}" for s in sources for k in ("in", "rr", "z")],
            )  # fmt: skip
            categorical = ("user", "user_gender", "user_occupation", "user_age_bucket", "item", "item_category",
                           "hour", "weekday", "device")  # fmt: skip
            layout = FeatureLayout(numeric, categorical, card, tuple(sources), vocab["gender"], vocab["occupation"],
                                   tuple(history.genre_names))  # fmt: skip
        elif G != len(layout.genres):
            raise ValueError(f"history has {G} genres but the builder was laid out for {len(layout.genres)}")
        self.layout_ = layout

        # Per-user tables with one extra cold/unknown row at index nu.
        act = np.bincount(u, minlength=nu).astype(np.float64)
        gmean = float(r.mean()) if len(r) else 0.0
        prior = cfg.rating_prior
        first = np.full(nu + 1, np.nan)
        last = np.full(nu + 1, np.nan)
        if len(u):
            np.fmin.at(first, u, ts)
            np.fmax.at(last, u, ts)
        X = sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(nu, ni))
        X.data[:] = 1.0
        counts = np.asarray(X @ history.item_genres, dtype=np.float64)
        mix = history.item_genres.sum(0) / max(history.item_genres.sum(), 1.0)
        tot = counts.sum(1, keepdims=True)
        profile = np.where(tot > 0, counts / np.maximum(tot, 1e-12), mix[None, :])
        age = users_t["age"].to_numpy(np.float64) if "age" in users_t else np.full(nu, np.nan)
        age_bucket = np.where(np.isfinite(age), np.searchsorted(AGE_BINS, np.nan_to_num(age), side="right") + 1, 0)
        rating_u = np.append((np.bincount(u, r, nu) + prior * gmean) / (act + prior), gmean)
        act = np.append(act, 0.0)
        profile = np.vstack([profile, mix])
        self.user_ = {
            "static": np.column_stack([np.log1p(act), rating_u, act == 0, profile]).astype(np.float32),
            "first": first,
            "last": last,
            "gender": np.append(_codes(users_t.get("gender", pd.Series([""] * nu)), layout.genders), 0),
            "occupation": np.append(_codes(users_t.get("occupation", pd.Series([""] * nu)), layout.occupations), 0),
            "age_bucket": np.append(age_bucket, 0).astype(np.int64),
        }

        # Per-item tables with one extra unknown row at index ni.
        now = float(ts.max()) if len(ts) else float(history.reference_ts)
        pop = np.append(np.bincount(i, minlength=ni), 0).astype(np.float64)
        recent = ts >= now - cfg.trend_days * SECONDS_PER_DAY
        cat = history.item_category + 1
        self.item_ = {
            "static": np.column_stack(
                [np.log1p(pop), np.log1p(np.append(np.bincount(i[recent], minlength=ni), 0)),
                 np.append(np.bincount(i, r, ni), 0.0) / (pop + prior) + prior * gmean / (pop + prior),
                 np.append(history.item_available, True), np.append(history.item_promoted, False), pop == 0,
                 np.vstack([history.item_genres, np.zeros((1, G), np.float32)])]
            ).astype(np.float32),
            "release": np.append(history.items["release_ts"].to_numpy(np.float64), np.nan),
            "category": np.append(np.where(cat < layout.cardinalities[5], cat, 0), 0),
        }
        self.now_ = now
        self.span_days_ = (now - np.nanmin(first)) / SECONDS_PER_DAY if np.isfinite(first).any() else 0.0

        # Truncated SVD of the binary history matrix (Sarwar et al. 2000): e_u = U√S, e_i = V√S.
        k = max(1, min(cfg.embedding_dim, min(nu, ni) - 1))
        ue, ie = np.zeros((nu + 1, k), np.float32), np.zeros((ni + 1, k), np.float32)
        if X.nnz and min(nu, ni) > 1:
            v0 = np.random.default_rng(cfg.seed).standard_normal(min(nu, ni))
            U_, S_, Vt = svds(X.astype(np.float64), k=k, v0=v0)
            ue[:nu], ie[:ni] = U_ * np.sqrt(S_), Vt.T * np.sqrt(S_)
        unit = ie / np.maximum(np.linalg.norm(ie, axis=1, keepdims=True), 1e-12)
        order = np.lexsort((i, ts, u))
        from_end = np.repeat(np.cumsum(np.bincount(u, minlength=nu)), np.bincount(u, minlength=nu)) - np.arange(len(u)) - 1
        keep = order[from_end < cfg.recent_items]
        W = sp.csr_matrix((np.ones(len(keep), np.float32), (u[keep], i[keep])), shape=(nu, ni))
        taste = np.vstack([W @ unit[:ni], np.zeros((1, k), np.float32)])
        self.embeddings_ = {"user": ue, "item": ie, "unit": unit,
                     "taste": taste / np.maximum(np.linalg.norm(taste, axis=1, keepdims=True), 1e-12)}  # fmt: skip
        return self

    def with_history(self, history: Dataset) -> FeatureBuilder:
        """A copy with statistics refitted on ``history`` and this builder's layout (for serving)."""
        self._check()
        return FeatureBuilder(self.config).fit(history, layout=self.layout_)

    def _check(self) -> None:
        if not self.fitted:
            raise RuntimeError("FeatureBuilder is not fitted: call .fit(history) first")

    def transform(
        self,
        users: np.ndarray,
        items: np.ndarray,
        timestamps: np.ndarray,
        device: np.ndarray | None = None,
        source: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features of N pairs: float32 ``[N, len(layout.numeric)]`` and int64 ``[N, len(layout.categorical)]``.

        users, items, timestamps (Unix seconds), device: ``[N]``; source: ``[N, 2 + 3·S]`` rows of the
        candidate-source block (`source_block`), or None for pairs outside any candidate set.
        """
        self._check()
        users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
        if (users < 0).any() or (items < 0).any():
            raise ValueError("transform: user and item ids must be >= 0 (padding must be masked out first)")
        us, it, em, layout = self.user_, self.item_, self.embeddings_, self.layout_
        nu, ni, G = len(us["first"]) - 1, len(it["release"]) - 1, len(layout.genres)
        U, I, card = np.minimum(users, nu), np.minimum(items, ni), layout.cardinalities
        ts = np.broadcast_to(np.asarray(timestamps, np.float64), users.shape)
        n_src = 2 + 3 * len(layout.sources)
        if source is not None and source.shape != (len(users), n_src):
            raise ValueError(f"source block has shape {source.shape}, expected {(len(users), n_src)}")
        nus, nis = len(USER_STATIC) + G, len(ITEM_STATIC) + G
        num = np.empty((len(users), len(layout.numeric)), np.float32)
        ustat, istat = num[:, :nus], num[:, nus + 2 : nus + 2 + nis]
        np.take(us["static"], U, axis=0, out=ustat)
        np.take(it["static"], I, axis=0, out=istat)
        cold = ustat[:, 2] == 1
        first, last = us["first"][U], us["last"][U]
        num[:, nus] = np.log1p(np.where(cold, 0.0, np.maximum(ts - np.nan_to_num(first), 0.0) / SECONDS_PER_DAY))
        num[:, nus + 1] = np.log1p(np.where(cold, self.span_days_, np.maximum(ts - np.nan_to_num(last), 0.0) / SECONDS_PER_DAY))
        release = it["release"][I]
        j = nus + 2 + nis
        num[:, j] = _signed_log(np.where(np.isfinite(release), (ts - np.nan_to_num(release)) / SECONDS_PER_DAY, 0.0))
        profile, genres = ustat[:, len(USER_STATIC) :], istat[:, len(ITEM_STATIC) :]
        num[:, j + 1] = (profile * genres).sum(1) / np.maximum(genres.sum(1), 1.0)
        num[:, j + 2] = np.einsum("nk,nk->n", em["user"][U], em["item"][I])
        num[:, j + 3] = np.einsum("nk,nk->n", em["taste"][U], em["unit"][I])
        num[:, j + 4 :] = 0.0 if source is None else source
        sec = ts.astype(np.int64)
        dev = simulated_device(users, sec, self.config.device_shares) if device is None else np.asarray(device, np.int64)
        if ((dev < 0) | (dev >= len(DEVICES))).any():
            raise ValueError(f"device codes must lie in [0, {len(DEVICES) - 1}] ({DEVICES})")
        cat = np.column_stack(
            [np.where(users + 1 < card[0], users + 1, 0), us["gender"][U], us["occupation"][U], us["age_bucket"][U],
             np.where(items + 1 < card[4], items + 1, 0), it["category"][I],
             (sec // 3600) % 24 + 1, (sec // 86_400 + 3) % 7 + 1, dev + 1]
        ).astype(np.int64)  # fmt: skip
        return num, cat

    def source_block(self, candidates: CandidateSet) -> np.ndarray:
        """float32 ``[U, n, 2 + 3·S]``: the source features of every candidate cell (see `FEATURES`)."""
        self._check()
        return _source_block(candidates, self.layout_.sources)

    def request_times(self, candidates: CandidateSet, context: Context | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-row request time ``[U]`` (default: the history's last timestamp) and device codes or None."""
        self._check()
        U = candidates.n_users
        if context is None:
            return np.full(U, self.now_), None
        ts = np.broadcast_to(np.asarray(context.timestamp, np.float64), (U,)).copy()
        dev = None if context.device is None else np.broadcast_to(np.asarray(context.device, np.int64), (U,))
        return ts, dev

    def build(self, candidates: CandidateSet, context: Context | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Features of every real cell of ``candidates``: float32 ``[U, n, F]`` and int64 ``[U, n, C]`` (0 at padding)."""
        mask = candidates.mask
        rows, cols = np.nonzero(mask)
        ts, dev = self.request_times(candidates, context)
        num, cat = self.transform(
            candidates.users[rows], candidates.items[rows, cols], ts[rows],
            None if dev is None else dev[rows], self.source_block(candidates)[rows, cols],
        )  # fmt: skip
        out_num = np.zeros((*mask.shape, num.shape[1]), np.float32)
        out_cat = np.zeros((*mask.shape, cat.shape[1]), np.int64)
        out_num[rows, cols], out_cat[rows, cols] = num, cat
        return out_num, out_cat
