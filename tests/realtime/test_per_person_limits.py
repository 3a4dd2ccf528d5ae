"""The gateway's limits hold per person, not per socket (CONTRACT section 4, issue 11): a user who
keeps reconnecting to a walk, on any instance, is closed with 4008."""

from __future__ import annotations

import dataclasses

import pytest

from services.realtime.limits import GatewayLimits
from tests.realtime.conftest import Gateway, Walk, closed_with, next_of_type

JOINS = 4


@pytest.fixture
def limits() -> GatewayLimits:
    return dataclasses.replace(GatewayLimits(), joins_per_window=JOINS)


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
