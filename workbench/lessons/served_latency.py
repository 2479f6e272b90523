"""Notebook 12's latency reason, measured: what a heavier ranker costs on the served path.

Two pipelines differ only in stage 2: the **light** one is the workbench's default pipeline
(`PipelineConfig` defaults: its Wide & Deep ranker) and the **heavy** one has the same stage 1 and
stage 3 and ranks with an **ensemble** (`workbench.lessons.ensemble`): the default's own ranker and the
same pipeline's GBDT (``HEAVY_MEMBERS``), each scoring every candidate, their per-user z-scores
averaged. On the default-size world it is more accurate offline than the light one (paired NDCG@10
on the test split, `offline_gain`; benchmarks/RESULTS.md has the seeds measured) and slower: it builds
features and scores once per member. Both member pipelines are fitted through the model store
(`workbench.store.load_or_train`; ``workbench train --notebooks`` stores them) and served by the
project's own serving code: a real Redis (Debian's redis-server) and the FastAPI app on a real uvicorn thread bound to 127.0.0.1
(`workbench.lessons.serving.ServingLab`); both run at once and the requests alternate between them,
so both see the same load on the machine. Each request is a ``GET /recommend`` with
``Cache-Control: no-cache`` (so every answer runs the three stages), and the latency read is the
service's own ``Server-Timing`` header: ``total`` (the request path from cache check to log) and
``ranking`` (stage 2). The service is given a ranker budget and Redis deadline far above what a
request needs, so no answer is degraded to the fallback during the measurement (answers flagged
``degraded`` are left out and counted).

The figure notebook 12 uses is the difference of the two medians of ``total``: the heavy
ranker's extra latency on the served path. Beside it, what the heavy ranker buys offline: the
paired difference of per-user NDCG@10 on the test split (`workbench.metrics.per_user`), heavy − light,
with its 95% interval. It is measured once per (data, seed, world size,
code) and persisted by the page (`mo.persistent_cache`), never on a slider move.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

HEAVY_MEMBERS = ("gbdt",)  # rankers averaged with the default's own in the heavy pipeline's ensemble
REQUESTS = 60  # measured requests per pipeline (after WARMUP)
WARMUP = 5


@dataclass(frozen=True)
class ServedLatency:
    """Median Server-Timing of the light and the heavy pipeline (ms), over ``requests`` answers each."""

    light: str
    heavy: str
    light_total_ms: float
    heavy_total_ms: float
    light_ranking_ms: float
    heavy_ranking_ms: float
    requests: int
    degraded: int
    light_ndcg: float = float("nan")  # mean NDCG@10 on the test split
    ndcg_diff: tuple[float, float, float] = (float("nan"),) * 3  # heavy − light, paired over users, with its 95% CI

    @property
    def extra_ms(self) -> float:
        """The heavy ranker's extra latency on the served path: the difference of the medians of ``total``
        (0 when the heavy one measured no slower)."""
        return max(0.0, self.heavy_total_ms - self.light_total_ms)

    @property
    def relative_gain(self) -> tuple[float, float, float]:
        """``ndcg_diff`` relative to the light pipeline's mean NDCG@10 (a fraction)."""
        return tuple(v / self.light_ndcg for v in self.ndcg_diff)

    def sentence(self) -> str:
        return (f"Measured on the served path (GET /recommend, no cache, the service's Server-Timing, median of "
                f"{self.requests} requests each): the light pipeline ({self.light}) answers in "
                f"{self.light_total_ms:.1f} ms (ranking {self.light_ranking_ms:.1f} ms), the heavy one ({self.heavy}) in "
                f"{self.heavy_total_ms:.1f} ms (ranking {self.heavy_ranking_ms:.1f} ms): {self.extra_ms:.1f} ms more.")  # fmt: skip


def configs(seed: int = 0) -> tuple:
    """(light, members): the default `PipelineConfig`, and the configs whose rankers the heavy pipeline
    averages: the default itself, then the same pipeline with each ranker of ``HEAVY_MEMBERS``."""
    from workbench.pipeline import PipelineConfig

    light = PipelineConfig(seed=seed)
    return light, (light, *(dataclasses.replace(light, ranker=name) for name in HEAVY_MEMBERS))


def describe(members) -> str:
    """The pipeline's stage 2 in words: its ranker, or the ensemble of its members' rankers."""
    names = [c.ranker for c in members]
    return names[0] if len(names) == 1 else "an ensemble of " + " + ".join(names) + " (mean per-user z-score)"


def measure(trained: dict, requests: int = REQUESTS, warmup: int = WARMUP, seed: int = 0) -> dict:
    """Serve each of ``trained`` (name → `workbench.store.Trained`) on its own uvicorn thread (one Redis each) at
    once, and send ``warmup + requests`` uncached requests, for users drawn with ``seed``, to each in turn (one
    user to every service before the next user), so that all of them see the same load on the machine.
    Returns, per name, the measured answers' ``total`` and ``ranking`` ms (the Server-Timing header) and how
    many answers were degraded (left out: ``(total, ranking, degraded)``)."""
    import httpx

    from workbench.lessons.serving import ServingLab
    from workbench.serving.loadtest import parse_server_timing
    from workbench.serving.service import ServiceConfig

    if requests < 1 or warmup < 0:
        raise ValueError(f"requests={requests!r}, warmup={warmup!r}: expected >= 1 and >= 0")
    config = ServiceConfig(ranker_budget_ms=60_000.0, redis_timeout_ms=5_000.0, cache_enabled=False)
    labs = {}
    out = {name: ([], [], 0) for name in trained}
    try:
        for name, t in trained.items():
            labs[name] = ServingLab(t, config).start()
        first = next(iter(labs.values()))
        users = np.random.default_rng(seed).choice(first.users, size=warmup + requests)
        clients = {n: httpx.Client(base_url=lab.url, timeout=60, headers={"Cache-Control": "no-cache"})
                   for n, lab in labs.items()}  # fmt: skip
        try:
            for i, user in enumerate(users):
                for name, http in clients.items():
                    resp = http.get("/recommend", params={"user": int(user), "k": 10})
                    resp.raise_for_status()
                    if i < warmup:
                        continue
                    total, ranking, degraded = out[name]
                    if resp.json()["degraded"] is not None:
                        out[name] = (total, ranking, degraded + 1)
                        continue
                    timing = parse_server_timing(resp.headers.get("server-timing"))
                    total.append(timing["total"])
                    ranking.append(timing.get("ranking", np.nan))
        finally:
            for http in clients.values():
                http.close()
    finally:
        for lab in labs.values():
            lab.close()
    for name, (total, _, _) in out.items():
        if not total:
            raise RuntimeError(f"all {requests} measured answers of {name!r} were degraded: no latency of the full path to read")
    return {name: (np.asarray(t), np.asarray(r), d) for name, (t, r, d) in out.items()}


def light_and_heavy(data: str = "synthetic", seed: int = 0, small: bool = False, progress=None) -> dict:
    """``{"light": Trained, "heavy": Trained}``: the default pipeline, and the same serving the ensemble of the
    members' rankers (`configs`), each member loaded from the model store (trained and stored first if absent)."""
    from workbench.lessons.ensemble import ensemble_pipeline
    from workbench.store import load_or_train

    light_cfg, member_cfgs = configs(seed)
    light = load_or_train(data, light_cfg, seed=seed, small=small, progress=progress)
    members = {cfg.ranker: light if cfg == light_cfg else load_or_train(data, cfg, seed=seed, small=small, progress=progress)
               for cfg in member_cfgs}  # fmt: skip
    heavy = dataclasses.replace(light, pipeline=ensemble_pipeline({n: t.pipeline for n, t in members.items()}),
                                key="+".join(t.key for t in members.values()))  # fmt: skip
    return {"light": light, "heavy": heavy}


def offline_gain(fitted: dict) -> tuple[float, tuple[float, float, float]]:
    """The light pipeline's mean NDCG@10 on the test split, and heavy − light paired over the same users
    (`workbench.metrics.per_user.paired_difference`) with its 95% interval; ``fitted``: `light_and_heavy`."""
    from workbench.metrics import relevance_matrix
    from workbench.metrics.per_user import paired_difference, per_user_figures

    ndcg = {}
    for name, trained in fitted.items():
        pipe = trained.pipeline
        slate = pipe.recommend(np.arange(trained.train.n_users))
        ndcg[name] = per_user_figures(pipe, slate, relevance_matrix(trained.test), 10)["ndcg"]
    diff = paired_difference(ndcg["light"], ndcg["heavy"])
    return float(np.nanmean(ndcg["light"])), tuple(float(v) for v in diff[:3]) if diff else (float("nan"),) * 3


def served_latency(data: str = "synthetic", seed: int = 0, small: bool = False, requests: int = REQUESTS,
                   progress=None) -> ServedLatency:  # fmt: skip
    """Fit (or load from the model store) the light pipeline and the heavy one's members, read the heavy one's
    offline gain (`offline_gain`), and measure both on the served path."""
    fitted = light_and_heavy(data, seed, small, progress)
    light_ndcg, diff = offline_gain(fitted)
    out = measure(fitted, requests, seed=seed)
    (lt, lr, ld), (ht, hr, hd) = out["light"], out["heavy"]
    light_cfg, member_cfgs = configs(seed)
    return ServedLatency(describe([light_cfg]), describe(member_cfgs), float(np.median(lt)), float(np.median(ht)),
                         float(np.nanmedian(lr)), float(np.nanmedian(hr)), requests, ld + hd, light_ndcg, diff)
