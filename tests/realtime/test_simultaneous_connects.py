"""Of simultaneous connects by one user to one walk, on any instances, exactly one socket
survives: the last admitted (issue 12's 4009 race; every other one is closed with 4009)."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import WSMsgType

from services.realtime.connection import Connection
from services.realtime.keys import rooms_key
from services.realtime.limits import GatewayLimits
from services.realtime.presence import join_sequence_key, seat_key
from shared.jsonutil import loads
from shared.walk_events import walk_channel
from tests.realtime.conftest import Gateway, Walk, eventually, next_of_type
from tests.realtime.protocol_spec import check_server_frame


@pytest.fixture
def limits() -> GatewayLimits:
    # Sixty connects at once would otherwise meet the reconnect limit (test_per_person_limits).
    return dataclasses.replace(GatewayLimits(), joins_per_window=1000)


def members_of(gateways: tuple[Gateway, Gateway], walk: Walk, user_id: str) -> list[Connection]:
    channel = walk_channel(walk.id).encode()
    return [
        member
        for gateway in gateways
        for member in gateway.server.app[rooms_key].broker.members(channel)
        if member.user_id == user_id
    ]


async def read_all(ws: aiohttp.ClientWebSocketResponse, frames: list[dict[str, object]]) -> None:
    """Read until the socket closes (so close handshakes complete), keeping the JSON frames."""
    async for message in ws:
        if message.type is WSMsgType.TEXT:
            frames.append(loads(message.data))
            check_server_frame(frames[-1])


@pytest.mark.parametrize("connects", [5, 60])
async def test_simultaneous_connects_leave_exactly_the_last_admitted_open(
    gateways: tuple[Gateway, Gateway], walk: Walk, redis: aioredis.Redis, connects: int
) -> None:
    partner, _ = await gateways[0].join(walk, walk.invitee)
    sockets = await asyncio.gather(
        *(gateways[i % 2].connect(walk.id, walk.inviter.token) for i in range(connects))
    )
    frames: list[list[dict[str, object]]] = [[] for _ in sockets]
    readers = [
        asyncio.create_task(read_all(ws, got)) for ws, got in zip(sockets, frames, strict=True)
    ]

    async def settled() -> bool:
        joined = await redis.get(join_sequence_key(walk.id, walk.inviter.id))
        return (
            joined == str(connects).encode()
            and len(members_of(gateways, walk, walk.inviter.id)) == 1
        )

    await eventually(settled, timeout_s=30)  # sixty handshakes on a busy machine
    [survivor] = members_of(gateways, walk, walk.inviter.id)
    assert survivor.seq == connects, "the survivor is not the last admitted"
    assert await redis.get(seat_key(walk.id, walk.inviter.id)) == survivor.connection_id.encode()

    open_sockets = [ws for ws in sockets if not ws.closed]
    assert len(open_sockets) == 1
    assert sorted({ws.close_code for ws in sockets if ws.closed}) == [4009]
    # The survivor is a working socket: it hears its partner and the partner hears it.
    [alive] = open_sockets
    await partner.send_json({"lat": 1.5, "lng": 2.5})
    await eventually(lambda: any(f.get("type") == "location" for f in frames[sockets.index(alive)]))
    await alive.send_json({"lat": 3.5, "lng": 4.5})
    assert (await next_of_type(partner, "location"))["lat"] == 3.5
    for ws in (*sockets, partner):
        await ws.close()
    await asyncio.gather(*readers)
