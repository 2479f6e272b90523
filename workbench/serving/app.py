"""The HTTP face of the service (FastAPI on uvicorn): input checks, endpoints, headers.

Endpoints:

- ``GET /recommend?user=<id>&k=<k>`` and ``POST /recommend`` (JSON ``{"user", "k", "context":
  {"device", "timestamp"}}``): the answer of `RecommenderService.recommend` with a
  ``Server-Timing`` header (one entry per stage, then ``total``) and ``X-Cache`` (hit, miss,
  bypass, off). ``Cache-Control: no-cache`` bypasses the response cache.
- ``POST /events``: ``{"events": [{"type", "request_id", "position", "user", "item",
  "propensity", "timestamp"}]}``, acknowledged after the durable write.
- ``GET /healthz``; ``GET /metrics`` (Prometheus text format).

Bad input never reaches the pipeline: it is answered with a 4xx JSON body naming the field,
what was expected and what came (``{"error", "field", "expected", "got"}``): 422 for invalid
values and unknown fields, 400 for a body that is not JSON (or nested too deep for the parser), 413 for a body over the limit.
Anything unexpected is a 500 with the request id, counted in ``/metrics`` (a bug, not an input).

`ServerThread` runs the app on a real uvicorn in a background thread (notebooks, tests).
"""

from __future__ import annotations

import json
import math
import reprlib
import threading
import time
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.ranking.features import DEVICES
from workbench.serving.service import RecommenderService, event_frame

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class BadInput(Exception):
    def __init__(self, field: str, expected: str, got: Any, status: int = 422) -> None:
        super().__init__(f"{field}: expected {expected}, got {got!r}")
        self.field, self.expected, self.got, self.status = field, expected, got, status

    def response(self) -> JSONResponse:
        # reprlib: a bounded repr (a value nested 900 levels deep must not recurse or fill the answer)
        got = self.got if isinstance(self.got, (int, float, str, bool, type(None))) else reprlib.repr(self.got)
        if isinstance(got, str) and len(got) > 200:
            got = got[:200] + "…"
        if isinstance(got, float) and not math.isfinite(got):
            got = str(got)
        return JSONResponse({"error": "bad input", "field": self.field, "expected": self.expected, "got": got},
                            status_code=self.status)  # fmt: skip


class RequestContext(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: Literal[DEVICES] | None = None  # type: ignore[valid-type]
    timestamp: float | None = Field(default=None, ge=0, le=4_102_444_800, allow_inf_nan=False)


class RecommendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: int = Field(strict=True, ge=INT64_MIN, le=INT64_MAX)
    k: int = Field(default=10, strict=True)
    context: RequestContext | None = None


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["impression", "click", "conversion"]
    request_id: str = Field(min_length=1, max_length=64)
    position: int = Field(strict=True, ge=1, le=10_000)
    user: int = Field(strict=True, ge=INT64_MIN, le=INT64_MAX)
    item: int = Field(strict=True, ge=INT64_MIN, le=INT64_MAX)
    propensity: float | None = Field(default=None, gt=0.0, le=1.0, allow_inf_nan=False)
    timestamp: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @field_validator("request_id")
    @classmethod
    def _printable(cls, v: str) -> str:
        if not v.isprintable():
            raise ValueError("a printable request id")
        return v


class EventsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1)


def _pydantic_error(exc: ValidationError) -> BadInput:
    errors = exc.errors()
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])  # an unknown field first
    field = ".".join(str(p) for p in err["loc"]) or "body"
    expected = err["msg"]
    if err["type"] == "extra_forbidden":
        expected = "no such field (unknown fields are refused)"
    elif err["type"] == "missing":
        expected = "this field (it is required)"
    return BadInput(field, expected, err.get("input"))


def _int_param(name: str, raw: str | None, lo: int, hi: int, expected: str | None = None) -> int:
    """A query parameter that must be an integer in [lo, hi]."""
    expected = expected or f"an integer in [{lo}, {hi}]"
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadInput(name, expected, raw) from None
    if not lo <= value <= hi:
        raise BadInput(name, expected, value)
    return value


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadInput("body", f"at most {limit} bytes", f"{declared} bytes", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadInput("body", f"at most {limit} bytes", f"more than {limit} bytes", status=413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput("body", "a JSON object", f"invalid JSON ({exc})", status=400) from None
    except RecursionError:  # the C parser recurses once per level and stops near Python's recursion limit
        raise BadInput("body", "JSON nested at most a few hundred levels deep", "JSON nested deeper than the parser's "
                       "recursion limit", status=400) from None  # fmt: skip


def create_app(service: RecommenderService) -> FastAPI:
    """The FastAPI app around ``service`` (its startup connects Redis and materialises the features)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.astartup()
        try:
            yield
        finally:
            await service.aclose()

    app = FastAPI(title="Recsys Workbench recommender", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.service = service
    metrics = service.metrics
    k_max = service.k_max

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput) -> JSONResponse:
        metrics.errors.labels("bad_input").inc()
        metrics.requests.labels(request.url.path, str(exc.status)).inc()
        return exc.response()

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        metrics.errors.labels("server").inc()
        metrics.requests.labels(request.url.path, "500").inc()
        return JSONResponse({"error": "internal error", "detail": f"{type(exc).__name__}: {exc}"}, status_code=500)

    async def answer(user: int, k: int, device: str | None, timestamp: float | None, request: Request) -> Response:
        no_cache = "no-cache" in request.headers.get("cache-control", "").lower()
        ans = await service.recommend(user, k, device, timestamp, use_cache=not no_cache)
        metrics.requests.labels("/recommend", "200").inc()
        return Response(json.dumps(ans.body), media_type="application/json",
                        headers={"Server-Timing": ans.server_timing(), "X-Cache": ans.body["cache"]})  # fmt: skip

    @app.get("/recommend")
    async def recommend_get(request: Request) -> Response:
        params = request.query_params
        unknown = sorted(set(params) - {"user", "k"})
        if unknown:
            raise BadInput(unknown[0], "no such parameter (expected user and k)", params[unknown[0]])
        if "user" not in params:
            raise BadInput("user", "an integer user id (required)", None)
        for name in ("user", "k"):
            if len(params.getlist(name)) > 1:
                raise BadInput(name, "one value", params.getlist(name))
        user = _int_param("user", params["user"], INT64_MIN, INT64_MAX, "an integer user id (64-bit)")
        k = _int_param("k", params.get("k", "10"), 1, k_max)
        return await answer(user, k, None, None, request)

    @app.post("/recommend")
    async def recommend_post(request: Request) -> Response:
        raw = await _read_json(request, service.config.max_body_bytes)
        if not isinstance(raw, dict):
            raise BadInput("body", "a JSON object", type(raw).__name__)
        try:
            body = RecommendBody.model_validate(raw)
        except ValidationError as exc:
            raise _pydantic_error(exc) from None
        except RecursionError:
            raise BadInput("body", "JSON nested less deeply", "a body too deep to validate", status=400) from None
        if not 1 <= body.k <= k_max:
            raise BadInput("k", f"an integer in [1, {k_max}]", body.k)
        ctx = body.context or RequestContext()
        return await answer(body.user, body.k, ctx.device, ctx.timestamp, request)

    @app.post("/events")
    async def events(request: Request) -> JSONResponse:
        raw = await _read_json(request, service.config.max_body_bytes * 16)
        if not isinstance(raw, dict):
            raise BadInput("body", "a JSON object with an 'events' list", type(raw).__name__)
        n = len(raw.get("events") or []) if isinstance(raw.get("events"), list) else 0
        if n > service.config.max_events:
            raise BadInput("events", f"at most {service.config.max_events} events per request", f"{n} events", status=413)
        try:
            body = EventsBody.model_validate(raw)
        except ValidationError as exc:
            raise _pydantic_error(exc) from None
        except RecursionError:
            raise BadInput("body", "JSON nested less deeply", "a body too deep to validate", status=400) from None
        frame = event_frame([e.model_dump() for e in body.events], time.time())
        known = service.item_index.get_indexer(frame["item_id"].to_numpy()) >= 0
        if not known.all():
            i = int((~known).argmax())
            raise BadInput(f"events.{i}.item", "an item id of the served catalogue", int(frame["item_id"].iloc[i]))
        impression = (frame["event_type"] == "impression").to_numpy()
        missing = impression & frame["propensity"].isna().to_numpy()
        if missing.any():
            i = int(missing.argmax())
            raise BadInput(f"events.{i}.propensity", "the probability the item was shown with, in (0, 1] "
                           "(impressions must carry it)", None)  # fmt: skip
        try:
            result = await service.ingest(frame)
        except Exception:
            metrics.errors.labels("event_log").inc()
            raise
        metrics.requests.labels("/events", "200").inc()
        return JSONResponse(result)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        metrics.requests.labels("/healthz", "200").inc()
        return JSONResponse(service.health())

    @app.get("/metrics")
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.text(), media_type=CONTENT_TYPE_LATEST)

    return app


class ServerThread:
    """A real uvicorn serving ``app`` on ``host:port`` (port None: a free one) in a background thread;
    ``keep_alive_s``: how long an idle keep-alive connection stays open (uvicorn's default: 5 s)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int | None = None, keep_alive_s: float = 5.0) -> None:
        import uvicorn

        from workbench.serving.redis_server import free_port

        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="warning",
                                                    lifespan="on", access_log=False, timeout_keep_alive=keep_alive_s))  # fmt: skip
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 120.0) -> ServerThread:
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"uvicorn on {self.url} stopped during start-up (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn on {self.url} did not start within {timeout} s")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
            self.thread = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
