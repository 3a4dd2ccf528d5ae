"""Seats outlive their TTL while the socket is open (the gateway refreshes them) and lapse when
no gateway refreshes them any more (a crashed gateway's users go offline)."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.realtime.app import REFRESH_SLICES
from services.realtime.keys import rooms_key
from services.realtime.limits import GatewayLimits
from services.realtime.presence import seat_key
from shared.settings import Settings
from tests.realtime.conftest import Gateway, Walk, create_walk, eventually

TTL_S = 1


@pytest.fixture
def limits() -> GatewayLimits:
    return dataclasses.replace(GatewayLimits(), presence_ttl_s=TTL_S)


async def test_open_socket_keeps_its_seat_past_the_ttl(
    gateways: tuple[Gateway, Gateway], walk: Walk, redis: aioredis.Redis
) -> None:
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    await asyncio.sleep(TTL_S * 3)
    assert await redis.exists(seat_key(walk.id, walk.inviter.id)) == 1
    invitee, hello = await two.join(walk, walk.invitee)
    assert hello["partner_online"] is True
    await inviter.close()
    await invitee.close()


async def test_seat_nobody_refreshes_lapses(
    gateway: Gateway, walk: Walk, redis: aioredis.Redis
) -> None:
    # A seat as a crashed gateway leaves it: set, and never refreshed again.
    await redis.set(seat_key(walk.id, walk.inviter.id), "gone-gateway-socket", ex=TTL_S)

    async def lapsed() -> bool:
        return await redis.exists(seat_key(walk.id, walk.inviter.id)) == 0

    await eventually(lapsed)
    invitee, hello = await gateway.join(walk, walk.invitee)
    assert hello["partner_online"] is False
    await invitee.close()


async def test_refresh_visits_every_socket_once_a_slice_at_a_time(
    gateway: Gateway, db: asyncpg.Connection, settings: Settings
) -> None:
    walks = [await create_walk(db, settings) for _ in range(8)]
    sockets = [(await gateway.join(walk, walk.inviter))[0] for walk in walks]
    broker = gateway.server.app[rooms_key].broker
    slices = [broker.members_in_slice(i, REFRESH_SLICES) for i in range(REFRESH_SLICES)]
    visited = [member for members in slices for member in members]
    assert len(visited) == len(walks)
    assert set(visited) == set(broker.all_members())
    assert max(len(members) for members in slices) < len(walks)
    for ws in sockets:
        await ws.close()
