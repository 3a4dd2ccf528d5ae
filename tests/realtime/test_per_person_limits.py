"""The gateway's limits hold per person, not per socket (CONTRACT section 4, issue 11): a user who
keeps reconnecting to a walk, on any instance, is closed with 4008, and however they connect
their partner receives at most 2 of their locations a second, the newest last."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType

from services.realtime.limits import GatewayLimits
from shared.jsonutil import loads
from tests.realtime.conftest import Gateway, Walk, closed_with, next_of_type, receive

# The contract's figure, and the default: more than 30 joins a minute.
JOINS = GatewayLimits().joins_per_window


@pytest.fixture
def limits() -> GatewayLimits:
    # The default count in a window an hour long: a slow machine's joins cannot age out of it.
    return dataclasses.replace(GatewayLimits(), join_window_s=3600.0)


async def test_reconnecting_too_often_closes_4008_on_any_instance(
    gateways: tuple[Gateway, Gateway], walk: Walk
) -> None:
    partner, _ = await gateways[0].join(walk, walk.invitee)
    for i in range(JOINS - 1):
        ws, _ = await gateways[i % 2].join(walk, walk.inviter)
        await ws.close()
    kept, _ = await gateways[1].join(walk, walk.inviter)

    refused = await gateways[0].connect(walk.id, walk.inviter.token)
    assert await closed_with(refused) == 4008
    refused = await gateways[1].connect(walk.id, walk.inviter.token)
    assert await closed_with(refused) == 4008

    # The refused connects changed nothing: the open socket still relays, its seat still holds.
    await kept.send_json({"lat": 5, "lng": 6})
    assert (await next_of_type(partner, "location"))["lat"] == 5
    # The limit is the reconnecting user's alone: the partner may still reconnect.
    again, hello = await gateways[1].join(walk, walk.invitee)
    assert hello["partner_online"] is True
    assert await closed_with(partner) == 4009
    for ws in (kept, again):
        await ws.close()


FLOOD_RECONNECTS = 15
# Within what each new socket's own rate limit lets through at once (20), the mark included.
BURST = 19
MARK = 89.0


async def test_reconnect_flood_reaches_the_partner_at_2_a_second_newest_last(
    gateways: tuple[Gateway, Gateway], walk: Walk
) -> None:
    """Issue 11: reconnecting in a loop, one user pushed 16,700 locations/s at a partner."""
    partner, _ = await gateways[0].join(walk, walk.invitee)
    loop = asyncio.get_running_loop()
    started = loop.time()
    replaced = []
    for i in range(FLOOD_RECONNECTS):
        ws, _ = await gateways[i % 2].join(walk, walk.inviter)
        replaced.append(ws)
        for n in range(BURST):
            await ws.send_json({"lat": 10 + i, "lng": n})
    flooder = replaced.pop()
    for ws in replaced:
        assert await closed_with(ws) == 4009
    await flooder.send_json({"lat": MARK, "lng": 0})

    received: list[dict[str, Any]] = []
    others = []
    while not received or received[-1]["lat"] != MARK:
        frame = await next_frame(partner)
        (received if frame["type"] == "location" else others).append(frame)
    elapsed = loop.time() - started

    # Reconnects replace the socket without a word to the partner: one "online", at the start.
    assert others == [{"type": "presence", "user_id": walk.inviter.id, "online": True}]

    sent = FLOOD_RECONNECTS * BURST + 1
    # The gateway writes one location every 0.5 s at most: over `elapsed`, 2 a second and the first.
    assert len(received) <= 2 * elapsed + 1, f"{len(received)} locations in {elapsed:.2f} s"
    assert len(received) < sent / 10
    await flooder.close()
    await partner.close()


async def next_frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await receive(ws)
    assert message.type is WSMsgType.TEXT, (message.type, ws.close_code)
    frame: dict[str, Any] = loads(message.data)
    return frame
