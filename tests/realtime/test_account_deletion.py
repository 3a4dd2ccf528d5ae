"""A walker deleting their account mid-walk (CONTRACT section 3, Account deletion): the
partner's socket gets `walk_ended`, then 4004; the leaver's last location is gone."""

from __future__ import annotations

import redis.asyncio as aioredis

from shared.walk_events import last_location_key
from tests.realtime.conftest import Gateway, closed_with, eventually, next_of_type
from tests.support import Api


async def test_partner_gets_walk_ended_then_4004_and_the_last_location_goes(
    gateways: tuple[Gateway, Gateway], api: Api, redis: aioredis.Redis
) -> None:
    leaver, partner = await api.signup("leaver"), await api.signup("partner")
    invitation = await api.call(
        "POST", "/invitations", leaver, expect=201, json={"invitee_id": partner.id}
    )
    await api.call("POST", f"/invitations/{invitation['id']}/accept", partner, expect=200)
    walk_id = invitation["id"]
    one, two = gateways
    leaver_ws = await one.connect(walk_id, leaver.token)
    partner_ws = await two.connect(walk_id, partner.token)
    for ws in (leaver_ws, partner_ws):
        await next_of_type(ws, "hello")
    await leaver_ws.send_json({"lat": 37.5665, "lng": 126.978})
    await next_of_type(partner_ws, "location")
    await eventually(lambda: redis.exists(last_location_key(walk_id, leaver.id)))

    await api.call("DELETE", "/me", leaver, expect=204, json={"password": "correct horse"})

    ended = await next_of_type(partner_ws, "walk_ended")
    assert ended == {"type": "walk_ended", "status": "cancelled"}
    assert await closed_with(partner_ws) == 4004
    assert await closed_with(leaver_ws) in (4001, 4004)
    assert not await redis.exists(last_location_key(walk_id, leaver.id))
