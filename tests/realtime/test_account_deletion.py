"""A walker deleting their account mid-walk (CONTRACT section 3, Account deletion): the
partner's socket gets `walk_ended`, then 4004; the leaver's last location is gone, and so is
every key naming them. The raw coordinates also go when a walk ends (issue 20)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from shared.walk_events import join_sequence_key, last_location_key
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
    assert await closed_with(leaver_ws) == 4001  # its session ended (CONTRACT section 4)
    assert not await redis.exists(last_location_key(walk_id, leaver.id))


async def walk_of(api: Api, gateways: tuple[Gateway, Gateway]) -> Any:
    """Two signed-up walkers on an accepted walk, both connected, one location relayed."""
    leaver, partner = await api.signup("leaver"), await api.signup("partner")
    invitation = await api.call(
        "POST", "/invitations", leaver, expect=201, json={"invitee_id": partner.id}
    )
    await api.call("POST", f"/invitations/{invitation['id']}/accept", partner, expect=200)
    one, two = gateways
    leaver_ws = await one.connect(invitation["id"], leaver.token)
    partner_ws = await two.connect(invitation["id"], partner.token)
    for ws in (leaver_ws, partner_ws):
        await next_of_type(ws, "hello")
    await leaver_ws.send_json({"lat": 37.5665, "lng": 126.978})
    await next_of_type(partner_ws, "location")
    return invitation["id"], leaver, partner, leaver_ws, partner_ws


async def test_a_deleted_account_leaves_no_key_naming_it(
    gateways: tuple[Gateway, Gateway], api: Api, redis: aioredis.Redis
) -> None:
    walk_id, leaver, _, leaver_ws, partner_ws = await walk_of(api, gateways)
    await eventually(lambda: redis.exists(join_sequence_key(walk_id, leaver.id)))
    await api.call("DELETE", "/me", leaver, expect=204, json={"password": "correct horse"})
    assert await closed_with(partner_ws) == 4004
    await closed_with(leaver_ws)
    keys = [key async for key in redis.scan_iter(match=f"walk:*{leaver.id}*")]
    assert keys == []


async def test_the_raw_coordinates_go_when_the_walk_is_finished(
    gateways: tuple[Gateway, Gateway], api: Api, redis: aioredis.Redis
) -> None:
    walk_id, leaver, partner, leaver_ws, partner_ws = await walk_of(api, gateways)
    await eventually(lambda: redis.exists(last_location_key(walk_id, leaver.id)))
    await api.call("POST", f"/invitations/{walk_id}/finish", partner, expect=200)
    for ws in (leaver_ws, partner_ws):
        assert await closed_with(ws) == 4004
    keys = [key async for key in redis.scan_iter(match=f"walk:{{{walk_id}}}:*")]
    assert not [key for key in keys if b":last:" in key or b":seq:" in key], keys
