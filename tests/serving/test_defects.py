"""The serving defects of issue 23, each shown on the real service: deeply nested JSON, NaN settings,
the Redis deadline on a busy event loop, events posted while Redis is unreachable."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from workbench.serving.service import RedisGuard, RedisUnavailable, ServiceConfig

from .conftest import ITEM_SHIFT, USER_SHIFT

PATIENT = {"redis_timeout_ms": 2000.0, "ranker_budget_ms": 10_000.0}


@pytest.mark.parametrize("name", ["ranker_budget_ms", "redis_cooldown_s", "redis_timeout_ms", "cache_ttl_s",
                                  "switch_interval_ms", "exploration_rate"])  # fmt: skip
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_settings_are_refused_naming_the_key(name, value):
    with pytest.raises(ValueError, match=rf"ServiceConfig\.{name}=.*finite"):
        ServiceConfig(**{name: value})


def test_deeply_nested_json_is_a_400_naming_the_body_not_a_500(serve):
    deep = "[" * 1000 + "]" * 1000  # 2 KB
    assert len(deep) == 2000
    with serve(ServiceConfig(**PATIENT)) as s:
        answers = {
            "recommend": s.client.post("/recommend", content=deep, headers={"content-type": "application/json"}),
            "events": s.client.post("/events", content=deep, headers={"content-type": "application/json"}),
            "recommend.user": s.client.post("/recommend", content='{"user": ' + deep + "}"),
            "events.events": s.client.post("/events", content='{"events": ' + deep + "}"),
        }
        shallow = s.client.post("/recommend", content='{"user": ' + "[" * 200 + "]" * 200 + "}")
        metrics = s.client.get("/metrics").text
    for where, r in answers.items():
        assert r.status_code == 400, (where, r.status_code, r.text)
        assert r.json()["field"] == "body" and "nested" in r.json()["expected"], (where, r.json())
    # parseable but wrong: the validator names the field, and the echoed value stays short
    assert shallow.status_code == 422 and shallow.json()["field"] == "user" and len(shallow.text) < 1000
    assert 'status="500"' not in metrics
