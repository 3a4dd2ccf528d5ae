"""Under overload a location waits as the newest of its walker, never in a queue (issue 15).

A reader that stops reading gets the newest location afterwards while Redis keeps the gateways'
pub/sub connections; a gateway whose pub/sub lags sheds by holding walkers' newest locations,
and parses none that a newer one replaced meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp
import pytest
import redis.asyncio as aioredis

from services.realtime.keys import redis_batch_key, rooms_key
from services.realtime.limits import GatewayLimits
from services.realtime.metrics import counters
from services.realtime.outbox import FIRST_HOLD_S, SHED_LAG_S
from tests.realtime.conftest import Gateway, Walk, eventually, next_of_type

PAUSE_S = 5.0
RATE_HZ = 50


@pytest.fixture
def limits(request: pytest.FixtureRequest) -> GatewayLimits:
    # A sender may send 50 a second, and the partner may get each of them (no per-person gap):
    # only a stalled reader or shedding makes locations wait. A test may set the probe period.
    return dataclasses.replace(
        GatewayLimits(),
        burst=1000,
        refill_per_s=1000,
        partner_location_gap_s=0.0,
        socket_send_buffer_bytes=4096,
        slow_buffer_bytes=1024,
        pubsub_probe_s=getattr(request, "param", GatewayLimits().pubsub_probe_s),
    )


async def pubsub_client_ids(redis: aioredis.Redis, names: set[str]) -> set[str]:
    return {c["id"] for c in await redis.client_list() if c["name"] in names}


async def test_a_reader_stopped_for_5_s_gets_the_newest_and_redis_keeps_pubsub(
    gateways: tuple[Gateway, Gateway],
    walk: Walk,
    redis: aioredis.Redis,
    slow_session: aiohttp.ClientSession,
) -> None:
    one, two = gateways
    names = {g.server.app[rooms_key].broker.connection_name for g in gateways}
    before_ids = await pubsub_client_ids(redis, names)
    assert len(before_ids) == 2
    reconnects = counters.pubsub_reconnects

    reader = await slow_session.ws_connect(two.url(walk.id, walk.invitee.token))
    await next_of_type(reader, "hello")
    sender, _ = await one.join(walk, walk.inviter)
    await next_of_type(reader, "presence")
    delivered, superseded = counters.delivered, counters.superseded

    # The reader's client stops taking bytes off its socket, as a phone gone to the background.
    transport = reader._response.connection.transport  # type: ignore[union-attr]
    assert transport is not None
    transport.pause_reading()
    sent = int(PAUSE_S * RATE_HZ)
    for i in range(sent):
        await sender.send_json({"lat": 37.5, "lng": 127.0, "timestamp": i})
        await asyncio.sleep(1 / RATE_HZ)
    transport.resume_reading()

    received = []
    while not received or received[-1] != sent - 1:
        received.append((await next_of_type(reader, "location"))["timestamp"])
    assert received == sorted(set(received)), "older locations after newer ones"
    # What the socket's buffers held when it stalled, then the newest: not 250 in a queue.
    assert len(received) < sent / 2, received
    await eventually(lambda: counters.delivered - delivered == len(received))
    assert counters.superseded - superseded == sent - len(received)
    assert await pubsub_client_ids(redis, names) == before_ids
    assert counters.pubsub_reconnects == reconnects
    await reader.close()
    await sender.close()


# No probe runs: the test sets the lag itself, and nothing tells the outbox otherwise.
@pytest.mark.parametrize("limits", [3600.0], indirect=True, ids=["no-probes"])
async def test_while_shedding_a_superseded_message_is_never_parsed(
    gateways: tuple[Gateway, Gateway], walk: Walk
) -> None:
    one, two = gateways
    outbox = one.server.app[redis_batch_key].outbox
    sender, _ = await one.join(walk, walk.inviter)
    partner, _ = await two.join(walk, walk.invitee)
    outbox.observe_lag(SHED_LAG_S * 2)
    assert outbox.hold_s == FIRST_HOLD_S

    # The first goes at once and starts a hold; what comes within it waits, the newest winning.
    await sender.send_json({"lat": 1.0, "lng": 2.0, "timestamp": 99})
    assert (await next_of_type(partner, "location"))["timestamp"] == 99
    superseded = counters.superseded
    await sender.send_str("{not json")
    await sender.send_str('{"lat": 999, "lng": 0}')
    for i in range(3):
        await sender.send_json({"lat": 1.0, "lng": 2.0, "timestamp": 100 + i})
    assert (await next_of_type(partner, "location"))["timestamp"] == 102
    assert counters.superseded - superseded == 4

    # A mistake still the newest when its batch goes is answered, late; the two superseded
    # above never were (the first error the sender gets is this one's).
    await sender.send_str('{"lat": 1, "lng": 999}')
    error = await next_of_type(sender, "error")
    assert error["code"] == "invalid_message" and "lng" in error["detail"], error
    await sender.send_json({"lat": 1.0, "lng": 2.0, "timestamp": 200})
    assert (await next_of_type(partner, "location"))["timestamp"] == 200
    await sender.close()
    await partner.close()


async def test_a_late_probe_makes_the_gateway_shed_and_a_timely_one_stops_it(
    gateways: tuple[Gateway, Gateway],
) -> None:
    one, _ = gateways
    outbox = one.server.app[redis_batch_key].outbox
    episodes = counters.shedding_episodes
    probe_s = GatewayLimits().pubsub_probe_s
    await asyncio.sleep(3 * probe_s)  # the first probes went round
    await eventually(lambda: outbox.hold_s == 0.0)
    # Loop iterations take longer than the lag allowed, as an overloaded gateway's do: each
    # probe is written, read and answered iterations later.
    loop = asyncio.get_running_loop()

    def long_iteration(more: int) -> None:
        time.sleep(SHED_LAG_S * 1.5)
        if more:
            loop.call_soon(long_iteration, more - 1)

    loop.call_soon(long_iteration, 2)
    await eventually(lambda: counters.shedding_episodes > episodes)
    # Probes on time again: the hold halves each time down to none.
    await eventually(lambda: outbox.hold_s == 0.0)
