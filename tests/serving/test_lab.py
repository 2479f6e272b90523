"""Notebook 08's lab runs its load test when asked, and keeps each run with the time, rate and cache it
ran with (the page's button calls `ServingLab.load_test`); everything it starts stops with it."""

import re
from datetime import UTC, datetime
from types import SimpleNamespace

from workbench.lessons.serving import ServingLab


def test_a_load_test_runs_when_asked_and_says_when_and_at_what_rate(stored_model):
    trained = SimpleNamespace(pipeline=stored_model.pipeline, train=stored_model.train, key=stored_model.version,
                              describe=lambda: stored_model.description)  # what `kit.trained` hands the page
    lab = ServingLab(trained).start()
    try:
        assert lab.last_load is None  # starting the service measures nothing
        before = datetime.now(UTC)
        run = lab.load_test(20, 1.0, cache=False)
        assert lab.last_load is run and before <= run.at <= datetime.now(UTC)
        assert lab.service.cache.enabled is False
        summary = run.result.summary()
        assert summary["sent"] == 20 and summary["errors"] == 0  # open loop: rate × duration requests
        assert summary["cache_hit_share"] == 0.0  # the cache was off for this run
        text = run.statement()
        assert text.startswith("Open loop at 20 req/s for 1 s: p50 ") and "cache off" in text
        assert re.search(rf"Measured at {run.at:%H:%M:%S} UTC\.$", text)
        assert not run.settings_differ(20, False)
        assert run.settings_differ(30, False) and run.settings_differ(20, True)  # the page then flags it as earlier
        again = lab.load_test(30, 1.0, cache=True)
        assert lab.last_load is again and again.rate == 30 and lab.service.cache.enabled is True
        assert again.result.summary()["sent"] == 30
    finally:
        lab.close()
    assert not lab.running and not lab.redis.running
