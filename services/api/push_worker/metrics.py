"""The push worker's metric families (on its internal listener, `PUSH_METRICS_PORT`).

- `withbowwow_push_sends_total{result}`: one a device send, `ok` or FCM's error status
  (`UNREGISTERED`, `UNAVAILABLE`, ...; `network`, `oauth` when no answer came);
- `withbowwow_push_dead_letters_total`, `withbowwow_push_retries_total`: jobs set aside, and
  attempts scheduled again after a backoff;
- `withbowwow_push_pending` (jobs waiting: in the stream unread, or waiting out a backoff),
  `withbowwow_push_pending_age_seconds` (how long the oldest unread job has waited: the lag),
  `withbowwow_push_in_flight`;
- `withbowwow_push_oauth_refreshes_total{result}`: access tokens minted, or failed to be.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import Counter, Gauge
from redis.exceptions import ResponseError

from services.api.notifications.push_jobs import PUSH_STREAM
from services.api.push_worker.fcm import Outcome, SendResult
from services.api.push_worker.job_stream import CONSUMER_GROUP, RETRY_KEY
from shared.metrics import ProcessMetrics, SampledCollector, counter, gauge
from shared.redis_client import RedisClient

# FCM's error codes and the google.rpc statuses it answers with; anything else is "other", so a
# misbehaving endpoint cannot grow the label without bound.
KNOWN_ERRORS = frozenset(
    {
        "UNSPECIFIED_ERROR",
        "INVALID_ARGUMENT",
        "UNREGISTERED",
        "SENDER_ID_MISMATCH",
        "QUOTA_EXCEEDED",
        "UNAVAILABLE",
        "INTERNAL",
        "THIRD_PARTY_AUTH_ERROR",
        "NOT_FOUND",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "DEADLINE_EXCEEDED",
    }
)


def send_result(result: SendResult) -> str:
    """The `result` label of one send."""
    if result.outcome is Outcome.SENT:
        return "ok"
    head, _, code = result.detail.partition(" ")
    if head in ("network:", "oauth:"):
        return head[:-1]
    if code in KNOWN_ERRORS:
        return code
    return f"http_{head}" if head.isdigit() and len(head) == 3 else "other"


class PushMetrics:
    def __init__(self, metrics: ProcessMetrics) -> None:
        registry = metrics.registry
        self.process = metrics
        self._sends = Counter(
            "withbowwow_push_sends",
            "Sends to one device, by result: ok or FCM's error status.",
            ["result"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "withbowwow_push_dead_letters",
            "Jobs set aside after their last attempt failed.",
            registry=registry,
        )
        self.retries = Counter(
            "withbowwow_push_retries",
            "Attempts scheduled again after a backoff.",
            registry=registry,
        )
        self.pending = Gauge(
            "withbowwow_push_pending",
            "Jobs waiting: in the stream not yet read by a worker, or waiting out a backoff.",
            registry=registry,
        )
        self.pending_age = Gauge(
            "withbowwow_push_pending_age_seconds",
            "How long the oldest job not yet read by any worker has waited (0: none).",
            registry=registry,
        )
        self.oauth_refreshes: dict[str, int] = {}  # kept by AccessTokens
        self.port = 0  # the internal listener's, once bound

    def sent(self, result: SendResult) -> None:
        self._sends.labels(send_result(result)).inc()

    def watch(self, redis: RedisClient, in_flight: Callable[[], int]) -> None:
        """The backlog, asked of Redis at each scrape; the jobs this worker holds."""

        def sampled() -> Iterator[Any]:
            yield counter(
                "withbowwow_push_oauth_refreshes",
                "OAuth access tokens minted for FCM (ok), or that failed to be (error).",
                "result",
                self.oauth_refreshes,
            )
            yield gauge("withbowwow_push_in_flight", "Jobs this worker is sending.", in_flight())

        self.process.registry.register(SampledCollector(sampled))

        async def backlog() -> None:
            unread, oldest_s = await _unread(redis)
            retrying = int(await redis.zcard(RETRY_KEY))
            self.pending.set(unread + retrying)
            self.pending_age.set(max(0.0, time.time() - oldest_s) if oldest_s else 0.0)

        self.process.scrape_hooks.append(backlog)


async def _unread(redis: RedisClient) -> tuple[int, float | None]:
    """Entries no worker has read yet, and the oldest one's time (its id's milliseconds)."""
    try:
        groups = await redis.xinfo_groups(PUSH_STREAM)
    except ResponseError:  # no stream yet
        return 0, None
    group = next((g for g in groups if _text(g.get("name")) == CONSUMER_GROUP), None)
    if group is None:
        return int(await redis.xlen(PUSH_STREAM)), None
    last = _text(group.get("last-delivered-id"))
    oldest = await redis.xrange(PUSH_STREAM, min=f"({last}", count=1)
    if not oldest:
        return 0, None
    lag = group.get("lag")  # Redis 7; settled entries are deleted, so XLEN - pending otherwise
    if lag is None:
        lag = int(await redis.xlen(PUSH_STREAM)) - int(group.get("pending") or 0)
    return max(1, int(lag)), int(_text(oldest[0][0]).split("-")[0]) / 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
