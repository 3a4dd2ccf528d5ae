"""The gateway's own Redis connections (the pub/sub reader and the batch writer) come back when
Redis drops them, subscribed again to every walk the gateway holds sockets of."""

from __future__ import annotations

import asyncio

import aiohttp
import redis.asyncio as aioredis

from services.realtime.keys import redis_batch_key, rooms_key
from tests.realtime.conftest import Gateway, Walk, eventually, next_of_type


def connection_names(gateway: Gateway) -> set[str]:
    app = gateway.server.app
    return {app[rooms_key].broker.connection_name, app[redis_batch_key].connection_name}


async def clients_named(redis: aioredis.Redis, names: set[str]) -> dict[str, int]:
    return {
        client["name"]: int(client["id"])
        for client in await redis.client_list()
        if client["name"] in names
    }


async def relays(
    sender: aiohttp.ClientWebSocketResponse, receiver: aiohttp.ClientWebSocketResponse
) -> bool:
    await sender.send_json({"lat": 37.5, "lng": 127.0})
    try:
        async with asyncio.timeout(0.5):
            await next_of_type(receiver, "location")
    except TimeoutError:
        return False
    return True


async def test_relay_survives_redis_dropping_the_gateways_connections(
    gateways: tuple[Gateway, Gateway], walk: Walk, redis: aioredis.Redis
) -> None:
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    names = connection_names(one) | connection_names(two)
    before = await clients_named(redis, names)
    assert set(before) == names

    for client_id in before.values():
        await redis.client_kill_filter(_id=client_id)

    await eventually(lambda: relays(inviter, invitee))
    await eventually(lambda: relays(invitee, inviter))
    after = await clients_named(redis, names)
    assert set(after) == names and not set(after.values()) & set(before.values())
    await inviter.close()
    await invitee.close()
