"""The pub/sub connection's PING health check keeps a healthy connection, idle or not.

With no channel subscribed the connection is not in subscribed mode, and Redis answers PING with
a plain `+PONG` instead of a `pong` push: that answer must count as one, or an idle gateway drops
and reconnects its pub/sub connection every other health check (issue 12).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest
import redis.asyncio as aioredis

from services.realtime.keys import rooms_key
from services.realtime.limits import GatewayLimits
from shared import resp
from tests.realtime.conftest import Gateway, Walk, eventually

HEALTH_CHECK_S = 0.05


@pytest.fixture
def limits() -> GatewayLimits:
    return dataclasses.replace(GatewayLimits(), pubsub_health_check_s=HEALTH_CHECK_S)


async def test_plain_pong_reaches_a_pubsub_connection_as_a_pong(redis_url: str) -> None:
    pongs: asyncio.Queue[list[object]] = asyncio.Queue()
    endpoint = resp.Endpoint.from_url(redis_url)
    connection = await resp.connect(endpoint, "test-plain-pong", pongs.put_nowait)
    try:
        connection.send([("PING",)])
        assert await asyncio.wait_for(pongs.get(), 5) == [b"pong", b""]
    finally:
        connection.close()


async def pubsub_client(redis: aioredis.Redis, gateway: Gateway) -> dict[str, str] | None:
    name = gateway.server.app[rooms_key].broker.connection_name
    return next((c for c in await redis.client_list() if c["name"] == name), None)


@pytest.mark.parametrize("subscribed", [False, True], ids=["idle", "with-a-walk"])
async def test_pubsub_connection_survives_many_health_checks(
    gateways: tuple[Gateway, Gateway],
    walk: Walk,
    redis: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
    subscribed: bool,
) -> None:
    gateway = gateways[0]
    sockets = [(await gateway.join(walk, walk.inviter))[0]] if subscribed else []
    first = await pubsub_client(redis, gateway)
    assert first is not None

    async def pinged() -> bool:
        client = await pubsub_client(redis, gateway)
        return client is not None and client["cmd"] == "ping"

    await eventually(pinged)
    # The old code dropped the idle connection at the second check; give it twenty.
    with caplog.at_level(logging.WARNING):
        await asyncio.sleep(20 * HEALTH_CHECK_S)
    after = await pubsub_client(redis, gateway)
    assert after is not None and after["id"] == first["id"], "the pub/sub connection was dropped"
    assert "nobody asked for" not in caplog.text
    assert "did not answer a PING" not in caplog.text
    for ws in sockets:
        await ws.close()
