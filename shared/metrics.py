"""Prometheus metrics: one registry a process, served on its internal listener.

Each process (API, push worker, gateway) listens on `HOST` at its own `*_METRICS_PORT` for
`GET /metrics` (prometheus-client's exposition, served by aiohttp: no second HTTP server
thread) and `GET /healthz` (the same check as the public one). The public ports serve neither.

What counts per request or per location (HTTP requests, the gateway's locations) is kept in plain
attributes and dicts that a collector turns into families when scraped, so the hot paths pay
an addition, not a prometheus-client lock and label lookup. Rare events (a sweep, a retry, a
token refresh) use prometheus-client's own Counter and Histogram.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from shared.health import healthz
from shared.keys import db_pool_key, redis_key, settings_key
from shared.redis_client import RedisClient
from shared.settings import Settings
from shared.timeouts import REQUEST_HEAD_TIMEOUT_S

log = logging.getLogger(__name__)

# Seconds; the API's pages answer in milliseconds, a WebSocket "request" lasts a whole walk.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SWEEP_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
# Anything else a client sends as a method is counted as "other": the label stays bounded.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
PING_TIMEOUT_S = 1.0

ScrapeHook = Callable[[], Awaitable[None]]


class HttpMetrics(Collector):
    """`withbowwow_http_requests_total{route, method, status}` and
    `withbowwow_http_request_duration_seconds{route, method}`, counted in dicts."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], int] = {}
        # (route, method) -> one count a bucket, then +Inf, then the sum of the durations.
        self._durations: dict[tuple[str, str], list[float]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        if method not in KNOWN_METHODS:
            method = "other"
        key = (route, method, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        histogram = self._durations.get((route, method))
        if histogram is None:
            histogram = self._durations[route, method] = empty_histogram(HTTP_BUCKETS)
        observe(histogram, HTTP_BUCKETS, seconds)

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily(
            "withbowwow_http_requests",
            "HTTP requests answered, by route template, method and status.",
            labels=["route", "method", "status"],
        )
        for (route, method, status), count in list(self._requests.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        durations = HistogramMetricFamily(
            "withbowwow_http_request_duration_seconds",
            "Time from the request's arrival at the handler to its response, in seconds.",
            labels=["route", "method"],
        )
        for (route, method), histogram in list(self._durations.items()):
            durations.add_metric(
                [route, method], cumulative(histogram, HTTP_BUCKETS), sum_value=histogram[-1]
            )
        yield durations


def empty_histogram(bounds: tuple[float, ...]) -> list[float]:
    """A histogram kept as a plain list: one count a bucket, then +Inf, then the sum."""
    return [0.0] * (len(bounds) + 2)


def observe(histogram: list[float], bounds: tuple[float, ...], value: float) -> None:
    histogram[bisect_left(bounds, value)] += 1
    histogram[-1] += value


def cumulative(histogram: list[float], bounds: tuple[float, ...]) -> list[tuple[str, float]]:
    """Prometheus's buckets (`le`, count at or under it) of a plain-list histogram."""
    buckets: list[tuple[str, float]] = []
    total = 0.0
    for upper, observed in zip((*bounds, float("inf")), histogram, strict=False):
        total += observed
        buckets.append((_bound(upper), total))
    return buckets


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(value)


class SampledCollector(Collector):
    """Families computed on scrape by `sample()` (counts kept elsewhere in plain attributes)."""

    def __init__(self, sample: Callable[[], Iterable[Any]]) -> None:
        self._sample = sample

    def collect(self) -> Iterable[Any]:
        return self._sample()


def counter(name: str, documentation: str, label: str, values: dict[str, int]) -> Any:
    """A counter family of one label from a dict of plain counts."""
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in list(values.items()):
        family.add_metric([value], count)
    return family


def total(name: str, documentation: str, value: int) -> Any:
    """A counter family without labels, from a plain count."""
    return CounterMetricFamily(name, documentation, value=value)


def gauge(name: str, documentation: str, value: float) -> Any:
    return GaugeMetricFamily(name, documentation, value=value)


class ProcessMetrics:
    """A process's registry: the standard `process_*`, `python_*` families, HTTP when the
    process serves HTTP, and whatever its parts register; `scrape_hooks` run before each
    scrape to refresh what must be asked for (a Redis round trip, the push backlog)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.http = HttpMetrics()
        self.scrape_hooks: list[ScrapeHook] = []
        self.sweep_duration = Histogram(
            "withbowwow_sweeper_duration_seconds",
            "How long one run of a periodic sweeper took, by sweeper.",
            ["sweeper"],
            buckets=SWEEP_BUCKETS,
            registry=self.registry,
        )
        self.sweep_failures = Counter(
            "withbowwow_sweeper_failures_total",
            "Sweeper runs that failed, by sweeper.",
            ["sweeper"],
            registry=self.registry,
        )
        self.redis_ping = Gauge(
            "withbowwow_redis_ping_seconds",
            "Round trip of a Redis PING made at the last scrape (-1 when it failed).",
            registry=self.registry,
        )

    def serve_http(self) -> None:
        self.registry.register(self.http)

    def watch_stores(self, pool: asyncpg.Pool, redis: RedisClient) -> None:
        """The database pool's connections (sampled on scrape) and the Redis round trip."""

        def pool_families() -> Iterator[Any]:
            family = GaugeMetricFamily(
                "withbowwow_db_pool_connections",
                "Database pool connections, in use or idle.",
                labels=["state"],
            )
            idle = pool.get_idle_size()
            family.add_metric(["in_use"], pool.get_size() - idle)
            family.add_metric(["idle"], idle)
            yield family
            yield gauge("withbowwow_db_pool_max", "Largest the pool may grow.", pool.get_max_size())

        self.registry.register(SampledCollector(pool_families))

        async def ping() -> None:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(PING_TIMEOUT_S):
                    await redis.ping()
            except Exception:
                self.redis_ping.set(-1)
            else:
                self.redis_ping.set(time.perf_counter() - started)

        self.scrape_hooks.append(ping)

    @contextmanager
    def sweep(self, sweeper: str) -> Iterator[None]:
        """Time one run of `sweeper`, and count it as failed if it raises."""
        started = time.perf_counter()
        try:
            yield
        except Exception:
            self.sweep_failures.labels(sweeper).inc()
            raise
        finally:
            self.sweep_duration.labels(sweeper).observe(time.perf_counter() - started)

    async def refresh(self) -> None:
        for hook in self.scrape_hooks:
            try:
                await hook()
            except Exception as exc:  # a scrape shows what it can; the rest keeps its last value
                log.warning("metrics: a scrape hook failed: %s", type(exc).__name__)


def metrics_app(metrics: ProcessMetrics, pool: asyncpg.Pool, redis: RedisClient) -> web.Application:
    """The internal listener's app: `GET /metrics` and `GET /healthz`."""
    exposition = make_aiohttp_handler(metrics.registry)

    async def scrape(request: web.Request) -> web.StreamResponse:
        await metrics.refresh()
        return await exposition(request)

    app = web.Application()
    app[db_pool_key] = pool
    app[redis_key] = redis
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
    return app


@asynccontextmanager
async def metrics_listener(
    metrics: ProcessMetrics,
    pool: asyncpg.Pool,
    redis: RedisClient,
    *,
    host: str,
    port: int,
    process: str,
) -> AsyncIterator[int]:
    """Serve the internal listener while inside; yields the port bound (`port` 0: any free)."""
    metrics.watch_stores(pool, redis)
    # Half-sent requests are cut off here too (shared/runner.py).
    runner = web.AppRunner(
        metrics_app(metrics, pool, redis),
        access_log=None,
        keepalive_timeout=REQUEST_HEAD_TIMEOUT_S,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = int(runner.addresses[0][1])
        log.info("%s metrics and health on http://%s:%d/metrics", process, host, bound)
        yield bound
    finally:
        await runner.cleanup()


metrics_key = web.AppKey("metrics", ProcessMetrics)
metrics_port_key = web.AppKey("metrics_port", int)  # the internal listener's, once bound


def metrics_ctx(
    process: str, port_of: Callable[[Settings], int]
) -> Callable[[web.Application], AbstractAsyncContextManager[None]]:
    """A cleanup context serving `app[metrics_key]` on the internal listener; register it
    after the database pool's and Redis's."""

    @asynccontextmanager
    async def serve(app: web.Application) -> AsyncIterator[None]:
        settings = app[settings_key]
        async with metrics_listener(
            app[metrics_key],
            app[db_pool_key],
            app[redis_key],
            host=settings.host,
            port=port_of(settings),
            process=process,
        ) as port:
            app[metrics_port_key] = port
            yield

    return serve


def http_metrics(app: web.Application) -> ProcessMetrics:
    """A fresh registry for an HTTP app, kept at `app[metrics_key]`."""
    metrics = ProcessMetrics()
    metrics.serve_http()
    app[metrics_key] = metrics
    return metrics
