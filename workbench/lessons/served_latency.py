"""Notebook 12's latency reason, measured: what a heavier ranker costs on the served path.

Two pipelines differ only in their ranker's size: the **light** one is the workbench's default
pipeline (`PipelineConfig` defaults: its ranker with its default model config) and the **heavy**
one is the same pipeline with ``HEAVY_RANKER_PARAMS`` (wider embeddings and a deeper, wider MLP).
Each is fitted through the model store (`workbench.store.load_or_train`) and served by the
project's own serving code: a real Redis (Debian's redis-server) and the FastAPI app on a real
uvicorn thread bound to 127.0.0.1 (`workbench.lessons.serving.ServingLab`); both run at once and
the requests alternate between them, so both see the same load on the machine. Each request is a
``GET /recommend`` with ``Cache-Control: no-cache`` (so every answer runs the three stages), and
the latency read is the service's own ``Server-Timing`` header: ``total`` (the request path from
cache check to log) and ``ranking`` (stage 2). The service is given a ranker budget and Redis
deadline far above what a request needs, so no answer is degraded to the fallback during the
measurement (answers flagged ``degraded`` are left out and counted).

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

HEAVY_RANKER_PARAMS = {"embed_dim": 32, "hidden": (1024, 512, 256)}
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

    def sentence(self) -> str:
        return (f"Measured on the served path (GET /recommend, no cache, the service's Server-Timing, median of "
                f"{self.requests} requests each): the light pipeline ({self.light}) answers in "
                f"{self.light_total_ms:.1f} ms (ranking {self.light_ranking_ms:.1f} ms), the heavy one ({self.heavy}) in "
                f"{self.heavy_total_ms:.1f} ms (ranking {self.heavy_ranking_ms:.1f} ms): {self.extra_ms:.1f} ms more.")  # fmt: skip


def configs(seed: int = 0):
    """(light, heavy) `PipelineConfig`: the default pipeline, and the same with ``HEAVY_RANKER_PARAMS``."""
    from workbench.pipeline import PipelineConfig

    light = PipelineConfig(seed=seed)
    return light, dataclasses.replace(light, ranker_params={**light.ranker_params, **HEAVY_RANKER_PARAMS})


def describe(config) -> str:
    m = config.ranker_model()
    return f"{config.ranker}, " + ", ".join(f"{f.name} {getattr(m, f.name)}" for f in dataclasses.fields(m)
                                            if f.name in ("embed_dim", "hidden"))  # fmt: skip


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


def served_latency(data: str = "synthetic", seed: int = 0, small: bool = False, requests: int = REQUESTS,
                   progress=None) -> ServedLatency:  # fmt: skip
    """Fit (or load from the model store) the light and heavy pipelines and measure both on the served path."""
    from workbench.metrics import relevance_matrix
    from workbench.metrics.per_user import paired_difference, per_user_figures
    from workbench.store import load_or_train

    ndcg, fitted = {}, {}
    light_cfg, heavy_cfg = configs(seed)
    for name, cfg in (("light", light_cfg), ("heavy", heavy_cfg)):
        trained = fitted[name] = load_or_train(data, cfg, seed=seed, small=small, progress=progress)
        pipe = trained.pipeline
        slate = pipe.recommend(np.arange(trained.train.n_users))
        ndcg[name] = per_user_figures(pipe, slate, relevance_matrix(trained.test), 10)["ndcg"]
    out = measure(fitted, requests, seed=seed)
    (lt, lr, ld), (ht, hr, hd) = out["light"], out["heavy"]
    diff = paired_difference(ndcg["light"], ndcg["heavy"])
    return ServedLatency(describe(light_cfg), describe(heavy_cfg), float(np.median(lt)), float(np.median(ht)),
                         float(np.nanmedian(lr)), float(np.nanmedian(hr)), requests, ld + hd,
                         float(np.nanmean(ndcg["light"])), tuple(float(v) for v in diff[:3]) if diff else (float("nan"),) * 3)  # fmt: skip
