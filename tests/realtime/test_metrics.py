"""The gateway's internal listener: its families after a walk was joined, relayed and refused."""

from __future__ import annotations

import aiohttp

from shared.metrics import metrics_port_key
from tests.realtime.conftest import Gateway, Walk, closed_with, next_of_type
from tests.support import sample_value, scrape

GATEWAY_FAMILIES = {
    "withbowwow_ws_connections",
    "withbowwow_ws_handshakes",
    "withbowwow_ws_handshake_duration_seconds",
    "withbowwow_ws_locations",
    "withbowwow_ws_slow_consumer_episodes",
    "withbowwow_ws_pubsub_reconnects",
    "withbowwow_http_requests",
    "withbowwow_http_request_duration_seconds",
    "withbowwow_db_pool_connections",
    "withbowwow_redis_ping_seconds",
    "process_cpu_seconds",
}


def port_of(gateway: Gateway) -> int:
    app = gateway.server.app
    assert app is not None
    return app[metrics_port_key]


async def test_gateway_metrics_count_handshakes_locations_and_sockets(
    gateway: Gateway, walk: Walk
) -> None:
    before = await scrape(port_of(gateway))
    inviter, _ = await gateway.join(walk, walk.inviter)
    invitee, _ = await gateway.join(walk, walk.invitee)
    await inviter.send_json({"lat": 37.5665, "lng": 126.978, "timestamp": 1707750000})
    await next_of_type(invitee, "location")
    refused = await gateway.connect(walk.id, "not-a-token")
    assert await closed_with(refused) == 4001
    after = await scrape(port_of(gateway))

    assert set(after) >= GATEWAY_FAMILIES
    assert sample_value(after["withbowwow_ws_connections"], "withbowwow_ws_connections") == 2

    def grew(family: str, name: str, **labels: str) -> float:
        return sample_value(after[family], name, **labels) - sample_value(
            before[family], name, **labels
        )

    handshakes = "withbowwow_ws_handshakes", "withbowwow_ws_handshakes_total"
    assert grew(*handshakes, result="accepted") == 2
    assert grew(*handshakes, result="4001") == 1
    # Only the accepted ones are timed, each from its request reaching the handler to its hello.
    durations = "withbowwow_ws_handshake_duration_seconds"
    assert grew(durations, f"{durations}_count") == 2
    assert 0 < grew(durations, f"{durations}_sum") < 10
    assert grew(durations, f"{durations}_bucket", le="+Inf") == 2
    locations = "withbowwow_ws_locations", "withbowwow_ws_locations_total"
    assert grew(*locations, event="received") == 1
    assert grew(*locations, event="delivered") == 1
    assert {s.labels["event"] for s in after["withbowwow_ws_locations"]} >= {
        "received",
        "delivered",
        "superseded",
    }
    # The overload families (outbox.py): the probe's lag is a fraction of a second here.
    assert (
        sample_value(after["withbowwow_ws_pubsub_lag_seconds"], "withbowwow_ws_pubsub_lag_seconds")
        < 1
    )
    assert "withbowwow_ws_shedding_episodes" in after
    requests = after["withbowwow_http_requests"]
    assert (
        sample_value(
            requests,
            "withbowwow_http_requests_total",
            route="/ws/walk-together/{invitation_id}",
            status="101",
        )
        >= 1
    )  # the refused socket's request is over
    await inviter.close()
    await invitee.close()


async def test_gateway_internal_listener_answers_health(gateway: Gateway) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port_of(gateway)}/healthz") as resp,
    ):
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}
