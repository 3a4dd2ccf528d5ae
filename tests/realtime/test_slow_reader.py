"""A partner that stops reading gets the newest location when it resumes, never a backlog, and
slows neither the sender nor anyone else."""

from __future__ import annotations

import dataclasses

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis

from services.realtime.limits import GatewayLimits
from shared.jsonutil import loads
from shared.settings import Settings
from shared.walk_events import last_location_key
from tests.realtime.conftest import Gateway, Walk, create_walk, eventually, next_of_type

SENT = 3000
BASE_TIME = 1_707_750_000


@pytest.fixture
def limits() -> GatewayLimits:
    # A sender allowed to flood (so only the reader is slow), and small buffers, so the test
    # needs thousands rather than millions of messages to outrun them.
    return dataclasses.replace(
        GatewayLimits(),
        burst=100_000,
        refill_per_s=100_000,
        socket_send_buffer_bytes=4096,
        slow_buffer_bytes=1024,
    )


async def test_slow_reader_gets_the_newest_location_not_a_backlog(
    gateways: tuple[Gateway, Gateway],
    walk: Walk,
    db: asyncpg.Connection,
    settings: Settings,
    redis: aioredis.Redis,
    slow_session: aiohttp.ClientSession,
) -> None:
    one, two = gateways
    slow = await slow_session.ws_connect(two.url(walk.id, walk.invitee.token))
    await next_of_type(slow, "hello")
    sender, _ = await one.join(walk, walk.inviter)
    other = await create_walk(db, settings)
    bystander, _ = await two.join(other, other.inviter)
    bystander_partner, _ = await two.join(other, other.invitee)

    # The slow reader reads nothing from here on.
    for i in range(SENT):
        await sender.send_json({"lat": 37.5, "lng": 127.0, "timestamp": BASE_TIME + i})

    async def sender_fully_relayed() -> bool:
        last = await redis.get(last_location_key(walk.id, walk.inviter.id))
        return last is not None and loads(last)["timestamp"] == BASE_TIME + SENT - 1

    await eventually(sender_fully_relayed)
    # Another walk on the slow reader's gateway is served meanwhile; its message was published
    # after the sender's last, so the gateway has handled every one of those by now.
    await bystander.send_json({"lat": 1, "lng": 1})
    assert (await next_of_type(bystander_partner, "location"))["lat"] == 1

    received = []
    while not received or received[-1] != BASE_TIME + SENT - 1:
        received.append((await next_of_type(slow, "location"))["timestamp"])
    assert received == sorted(set(received)), "older locations after newer ones"
    assert len(received) < SENT, "every location was queued: a backlog, not the newest"
    for ws in (slow, sender, bystander, bystander_partner):
        await ws.close()
