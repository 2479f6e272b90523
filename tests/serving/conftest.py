"""Fixtures for the serving tests: a real redis-server, a real uvicorn on 127.0.0.1, one small trained model.

redis-server must be installed (`make test` installs Debian's): without it these tests fail, loudly,
instead of being skipped. The model is a cheap pipeline on the small synthetic world, trained once
into a session-local model store (``WORKBENCH_MODEL_STORE``). Its user and item ids are shifted away
from the row indices (users +10000, items +50000), so every test also checks that answers speak
external ids.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from workbench.pipeline import PipelineConfig
from workbench.serving.redis_server import RedisServer, find_redis_server

USER_SHIFT, ITEM_SHIFT = 10_000, 50_000


@pytest.fixture(scope="session", autouse=True)
def redis_server_installed() -> str:
    """Fails every serving test (no skip) when Debian's redis-server is missing."""
    return find_redis_server()


@pytest.fixture(scope="session")
def stored_model(model_store, tiny_pipeline_toml):
    """The tiny pipeline on the small world, from the session's model store (trained on first use)."""
    from workbench.serving.model import load_model

    return load_model("synthetic", PipelineConfig.from_toml(tiny_pipeline_toml), seed=0, small=True)


@pytest.fixture(scope="session")
def model(stored_model):
    """`stored_model` with external ids that differ from the rows (users +10000, items +50000)."""
    train = stored_model.train
    users = train.users.assign(user_id=train.users["user_id"].to_numpy() + USER_SHIFT)
    items = train.items.assign(item_id=train.items["item_id"].to_numpy() + ITEM_SHIFT)
    shifted = dataclasses.replace(train, users=users, items=items)
    return dataclasses.replace(stored_model, train=shifted)


@dataclass
class Served:
    service: object
    url: str
    redis: RedisServer
    log_path: Path
    client: httpx.Client


@pytest.fixture
def serve(model, tmp_path):
    """``serve(config)``: a context manager running the service on its own Redis and uvicorn."""
    from workbench.serving.app import ServerThread, create_app
    from workbench.serving.eventlog import SQLiteEventLog
    from workbench.serving.service import RecommenderService

    @contextmanager
    def run(config=None, served_model=None):
        with RedisServer(dir=tmp_path / f"redis-{os.urandom(3).hex()}") as redis:
            log_path = tmp_path / f"events-{os.urandom(3).hex()}.sqlite"
            service = RecommenderService(served_model or model, redis.url, SQLiteEventLog(log_path), config)
            try:
                with ServerThread(create_app(service)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
                    yield Served(service, server.url, redis, log_path, client)
            finally:
                service.close()

    return run


@pytest.fixture
def replicas(model, tmp_path):
    """``replicas(config)``: two services (real uvicorns) over one redis-server and one SQLite event log;
    yields ``(services, servers, redis)``."""
    from contextlib import ExitStack

    from workbench.serving.app import ServerThread, create_app
    from workbench.serving.eventlog import SQLiteEventLog
    from workbench.serving.service import RecommenderService

    @contextmanager
    def run(config):
        with ExitStack() as stack:
            redis = stack.enter_context(RedisServer(dir=tmp_path / "redis"))
            services, servers = [], []
            for _ in range(2):
                service = RecommenderService(model, redis.url, SQLiteEventLog(tmp_path / "events.sqlite"), config)
                stack.callback(service.close)
                servers.append(stack.enter_context(ServerThread(create_app(service))))
                services.append(service)
            yield services, servers, redis

    return run
