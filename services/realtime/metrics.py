"""The gateway's metric families (on its internal listener, `REALTIME_METRICS_PORT`).

Every location passes through here, so the counts are plain attributes of one object per
process (`counters`), added to where they happen and turned into families only when scraped:
- `withbowwow_ws_connections`: sockets open on this instance;
- `withbowwow_ws_handshakes_total{result}`: `accepted`, or the close code it was refused with;
- `withbowwow_ws_handshake_duration_seconds`: an accepted handshake, from its upgrade request
  reaching the handler to its hello (the checks, the seat and any wait for a turn);
- `withbowwow_ws_locations_total{event}`: `received` from a walker, `delivered` to the
  partner's socket, `superseded` (replaced by a newer one while the socket was behind);
- `withbowwow_ws_slow_consumer_episodes_total`: times a socket fell behind and was held back;
- `withbowwow_ws_pubsub_reconnects_total`: times the pub/sub connection was lost and remade;
- `withbowwow_ws_pubsub_lag_seconds`: how late this instance's own probe came back through
  Redis pub/sub (broker.py), the delay a location meets there;
- `withbowwow_ws_shedding_episodes_total`: times that lag made the instance shed (outbox.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import HistogramMetricFamily

from shared.metrics import (
    SampledCollector,
    counter,
    cumulative,
    empty_histogram,
    gauge,
    observe,
    total,
)

# Seconds: a handshake is milliseconds alone, and up to seconds in a reconnect storm.
HANDSHAKE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayCounters:
    __slots__ = (
        "delivered",
        "handshake_durations",
        "handshakes",
        "pubsub_reconnects",
        "received",
        "shedding_episodes",
        "slow_episodes",
        "superseded",
    )

    def __init__(self) -> None:
        self.received = 0
        self.delivered = 0
        self.superseded = 0
        self.slow_episodes = 0
        self.shedding_episodes = 0
        self.pubsub_reconnects = 0
        self.handshakes: dict[str, int] = {}
        self.handshake_durations = empty_histogram(HANDSHAKE_BUCKETS)

    def handshake(self, result: str) -> None:
        self.handshakes[result] = self.handshakes.get(result, 0) + 1

    def handshake_took(self, seconds: float) -> None:
        observe(self.handshake_durations, HANDSHAKE_BUCKETS, seconds)


# One a process: a gateway process runs one app (tests running several in one process see
# their sums, which is why they compare before and after).
counters = GatewayCounters()


def gateway_collector(
    open_sockets: Callable[[], int], pubsub_lag_s: Callable[[], float]
) -> SampledCollector:
    def sample() -> Iterator[Any]:
        yield gauge(
            "withbowwow_ws_connections", "WebSockets open on this instance.", open_sockets()
        )
        yield counter(
            "withbowwow_ws_handshakes",
            "Walk-together handshakes: accepted, or the close code that refused them.",
            "result",
            counters.handshakes,
        )
        durations = HistogramMetricFamily(
            "withbowwow_ws_handshake_duration_seconds",
            "Accepted handshakes, from the upgrade request reaching the handler to the hello.",
        )
        histogram = counters.handshake_durations
        durations.add_metric([], cumulative(histogram, HANDSHAKE_BUCKETS), sum_value=histogram[-1])
        yield durations
        yield counter(
            "withbowwow_ws_locations",
            "Locations received from walkers, delivered to partners, or superseded by a newer "
            "one before a behind socket could take it.",
            "event",
            {
                "received": counters.received,
                "delivered": counters.delivered,
                "superseded": counters.superseded,
            },
        )
        yield total(
            "withbowwow_ws_slow_consumer_episodes",
            "Times a socket fell behind and its partner's frames were held for it.",
            counters.slow_episodes,
        )
        yield gauge(
            "withbowwow_ws_pubsub_lag_seconds",
            "How late this instance's last pub/sub probe came back (or the age of one still out).",
            pubsub_lag_s(),
        )
        yield total(
            "withbowwow_ws_shedding_episodes",
            "Times the pub/sub lag made this instance hold walkers' locations to shed load.",
            counters.shedding_episodes,
        )
        yield total(
            "withbowwow_ws_pubsub_reconnects",
            "Times this instance's pub/sub connection was lost (or failed) and made again.",
            counters.pubsub_reconnects,
        )

    return SampledCollector(sample)
