"""Pausing location sharing and withdrawing location consent, seen on the walk-together sockets
(CONTRACT section 3 Location consent, section 4's 4005), across two gateway instances."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.api.location_rights.notices import write_location_notices
from shared.jsonutil import dumps_bytes, loads
from shared.settings import Settings
from shared.walk_events import last_location_key, presence_event, walk_channel
from tests.api.walk_support import walk_payload
from tests.realtime.conftest import (
    Gateway,
    Walk,
    Walker,
    closed_with,
    eventually,
    next_of_type,
    receive,
)
from tests.support import CONSENTS, Api, User, assert_error, make_settings

PATH = [
    {"lat": 37.5, "lng": 127.0, "t": 1_700_000_000.0},
    {"lat": 37.51, "lng": 127.0, "t": 1_700_000_060.0},
]


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    # A quick database read, so the test of a pause never announced does not wait long.
    return make_settings(database_url, redis_url, session_sync_interval_s=0.05)


def bearer(walker: Walker) -> dict[str, str]:
    return {"Authorization": f"Bearer {walker.token}"}


async def pause(api: Api, walker: Walker, **body: Any) -> Any:
    return await api.call(
        "POST", "/me/location-pause", headers=bearer(walker), expect=200, json=body
    )


async def provided(db: asyncpg.Connection, walk: Walk, walker: Walker) -> int:
    count: int | None = await db.fetchval(
        "SELECT count FROM location_access_log"
        " WHERE invitation_id = $1 AND user_id = $2 AND direction = 'provided'",
        uuid.UUID(walk.id),
        uuid.UUID(walker.id),
    )
    return count or 0


async def test_a_pause_closes_the_socket_4005_on_another_gateway_and_the_partner_sees_it_leave(
    gateways: tuple[Gateway, Gateway], walk: Walk, api: Api
) -> None:
    one, two = gateways
    inviter, _ = await two.join(walk, walk.inviter)
    invitee, _ = await one.join(walk, walk.invitee)
    body = await pause(api, walk.inviter)
    assert body == {"paused_until": None}
    assert await closed_with(inviter) == 4005
    presence = await next_of_type(invitee, "presence")
    assert presence == {"type": "presence", "user_id": walk.inviter.id, "online": False}
    assert not invitee.closed  # the partner's walk goes on


async def test_while_paused_new_sockets_are_refused_4005_on_every_gateway_until_resumed(
    gateways: tuple[Gateway, Gateway], walk: Walk, api: Api
) -> None:
    body = await pause(api, walk.invitee, minutes=30)
    until = dt.datetime.fromisoformat(body["paused_until"])
    assert dt.timedelta(minutes=29) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=30)
    for gateway in gateways:
        ws = await gateway.connect(walk.id, walk.invitee.token)
        assert await closed_with(ws) == 4005
    # The partner is not paused, and is told the paused walker is not there.
    inviter, hello = await gateways[0].join(walk, walk.inviter)
    assert hello["partner_online"] is False
    await api.call("DELETE", "/me/location-pause", headers=bearer(walk.invitee), expect=204)
    await api.call("DELETE", "/me/location-pause", headers=bearer(walk.invitee), expect=204)
    for gateway in gateways:

        async def admitted(gateway: Gateway = gateway) -> bool:
            ws = await gateway.connect(walk.id, walk.invitee.token)
            message = await ws.receive(timeout=10)
            await ws.close()
            return message.type.name == "TEXT"

        await eventually(admitted)
    await inviter.close()


async def test_4005_comes_after_4003_in_the_handshake(
    gateway: Gateway, walk: Walk, api: Api, db: asyncpg.Connection
) -> None:
    other = await api.signup()
    await api.call("POST", "/me/location-pause", other, expect=200, json={})
    ws = await gateway.connect(walk.id, other.token)
    assert await closed_with(ws) == 4003


async def test_a_pause_with_an_end_lapses_without_a_resume(
    gateway: Gateway, walk: Walk, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await pause(api, walk.inviter, minutes=1)
    ws = await gateway.connect(walk.id, walk.inviter.token)
    assert await closed_with(ws) == 4005

    class AMinuteLater:
        @staticmethod
        def time() -> float:
            return time.time() + 61

    monkeypatch.setattr("shared.location_pauses.time", AMinuteLater)
    ws, hello = await gateway.join(walk, walk.inviter)
    assert hello["type"] == "hello"
    await ws.close()


async def test_nothing_of_a_paused_walker_is_relayed_or_recorded(
    gateways: tuple[Gateway, Gateway],
    walk: Walk,
    api: Api,
    db: asyncpg.Connection,
    redis: aioredis.Redis,
) -> None:
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    await inviter.send_json({"lat": 37.5, "lng": 127.0, "timestamp": 1})
    assert (await next_of_type(invitee, "location"))["timestamp"] == 1
    await eventually(lambda: provided(db, walk, walk.inviter))
    before = await provided(db, walk, walk.inviter)

    await pause(api, walk.inviter)
    assert await closed_with(inviter) == 4005
    assert (await next_of_type(invitee, "presence"))["online"] is False
    # A location of the paused walker still on its way (its gateway had not heard of the
    # pause yet) is not relayed: the partner's next frame is the one published after it.
    await asyncio.sleep(0.6)  # past the partner's 2-a-second location gap
    stale = {"type": "location", "user_id": walk.inviter.id, "lat": 1, "lng": 1, "timestamp": 2}
    await redis.publish(walk_channel(walk.id), dumps_bytes(stale))
    await redis.publish(walk_channel(walk.id), presence_event(walk.inviter.id, online=True))
    message = loads((await receive(invitee)).data)
    assert message["type"] == "presence", message
    # The partner reconnecting is not handed the paused walker's last location either.
    assert await redis.exists(last_location_key(walk.id, walk.inviter.id))
    again, hello = await one.join(walk, walk.invitee)
    assert hello["partner_last"] is None and hello["partner_online"] is False
    await again.close()
    # A stopping gateway writes every count it holds: none is the paused walker's.
    for gateway in gateways:
        await gateway.server.close()
    assert await provided(db, walk, walk.inviter) == before


async def test_a_pause_is_the_callers_own_and_stops_no_one_else(
    gateways: tuple[Gateway, Gateway], walk: Walk, api: Api
) -> None:
    one, _ = gateways
    await api.call("POST", "/me/location-pause", expect=401, json={})
    await api.call("DELETE", "/me/location-pause", expect=401)
    for body in (
        {"minutes": 0},
        {"minutes": 1441},
        {"minutes": "5"},
        {"minutes": 1.5},
        {"user_id": walk.invitee.id},
    ):
        answer = await api.call(
            "POST", "/me/location-pause", headers=bearer(walk.inviter), expect=422, json=body
        )
        assert_error(answer, "validation_error")
    outsider = await api.signup()
    await api.call("POST", "/me/location-pause", outsider, expect=200, json={})
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, hello = await one.join(walk, walk.invitee)
    assert hello["partner_online"] is True
    await inviter.close()
    await invitee.close()


# Withdrawal: these walkers sign up through the API, with its consents.


async def _walk_of(api: Api, inviter: User, invitee: User) -> Walk:
    invitation = await api.call(
        "POST", "/invitations", inviter, expect=201, json={"invitee_id": invitee.id}
    )
    await api.call("POST", f"/invitations/{invitation['id']}/accept", invitee, expect=200)
    return Walk(
        invitation["id"],
        Walker(inviter.id, inviter.token, ""),
        Walker(invitee.id, invitee.token, ""),
    )


async def test_withdrawal_ends_the_walk_erases_paths_and_refuses_location_features(
    gateways: tuple[Gateway, Gateway], api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    one, two = gateways
    me, partner, friend = await api.signup(), await api.signup(), await api.signup()
    walked = await api.call("POST", "/walks", me, expect=201, json=walk_payload(path=PATH))
    walk = await _walk_of(api, me, partner)
    pending = await api.call("POST", "/invitations", friend, expect=201, json={"invitee_id": me.id})
    mine, _ = await one.join(walk, walk.inviter)
    theirs, _ = await two.join(walk, walk.invitee)
    await mine.send_json({"lat": 37.5, "lng": 127.0})
    await next_of_type(theirs, "location")
    await eventually(lambda: redis.exists(last_location_key(walk.id, me.id)))

    await api.call("DELETE", "/me/consents/location_terms", me, expect=204)

    assert await closed_with(mine) == 4005
    ended = await next_of_type(theirs, "walk_ended")
    assert ended["status"] == "cancelled"
    assert await closed_with(theirs) == 4004
    assert not await redis.exists(last_location_key(walk.id, me.id))
    # Paths erased; distance and duration kept.
    detail = await api.call("GET", f"/walks/{walked['id']}", me, expect=200)
    assert detail.get("path") in (None, [])
    assert detail["distance_m"] == walked["distance_m"]
    assert detail["duration_s"] == walked["duration_s"]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM walks WHERE user_id = $1 AND path IS NOT NULL", uuid.UUID(me.id)
        )
        == 0
    )
    statuses = {r["id"]: r["status"] for r in await db.fetch("SELECT id, status FROM invitations")}
    assert statuses[uuid.UUID(walk.id)] == "cancelled"
    assert statuses[uuid.UUID(pending["id"])] == "cancelled"
    consents = await api.call("GET", "/me/consents", me, expect=200)
    assert consents["current"]["location_terms"] is None
    assert consents["history"][0]["kind"] == "location_terms"
    assert consents["history"][0]["action"] == "withdrawn"

    # Location features are refused; the rest of the app works.
    body = await api.call("POST", "/walks", me, expect=403, json=walk_payload(path=PATH))
    assert_error(body, "consent_required")
    assert [d["kind"] for d in body["error"]["details"]] == ["location_terms"]
    await api.call("POST", "/invitations", me, expect=403, json={"invitee_id": friend.id})
    invited = await api.call("POST", "/invitations", friend, expect=201, json={"invitee_id": me.id})
    await api.call("POST", f"/invitations/{invited['id']}/accept", me, expect=403)
    await api.call("POST", "/walks", me, expect=201, json=walk_payload())
    await api.call("POST", f"/walks/{walked['id']}/comments", me, expect=201, json={"body": "좋아"})
    assert (await api.call("GET", "/me", me, expect=200))["consents_required"] == []

    # Given again, they work again.
    version = CONSENTS["location_terms"]
    await api.call("POST", "/me/consents", me, expect=200, json={"location_terms": version})
    await api.call("POST", f"/invitations/{invited['id']}/accept", me, expect=200)
    await api.call("POST", "/walks", me, expect=201, json=walk_payload(path=PATH))


async def test_withdrawing_twice_records_one_withdrawal(api: Api, db: asyncpg.Connection) -> None:
    me = await api.signup()
    await api.call("DELETE", "/me/consents/location_terms", me, expect=204)
    await api.call("DELETE", "/me/consents/location_terms", me, expect=204)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM consent_records WHERE user_id = $1 AND action = 'withdrawn'",
            uuid.UUID(me.id),
        )
        == 1
    )
    await api.call("DELETE", "/me/consents/location_terms", expect=401)


async def test_one_walkers_withdrawal_erases_no_one_elses_path(api: Api) -> None:
    me, other = await api.signup(), await api.signup()
    theirs = await api.call("POST", "/walks", other, expect=201, json=walk_payload(path=PATH))
    await api.call("DELETE", "/me/consents/location_terms", me, expect=204)
    detail = await api.call("GET", f"/walks/{theirs['id']}", other, expect=200)
    assert len(detail["path"]) == 2


async def test_after_a_walk_together_the_walker_is_told_how_often_their_location_went_out(
    gateways: tuple[Gateway, Gateway], walk: Walk, api: Api, db: asyncpg.Connection
) -> None:
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    await inviter.send_json({"lat": 37.5, "lng": 127.0})
    await next_of_type(invitee, "location")
    await eventually(lambda: provided(db, walk, walk.inviter))
    await api.call(
        "POST", f"/invitations/{walk.id}/finish", headers=bearer(walk.invitee), expect=200
    )
    assert await closed_with(inviter) == 4004
    assert await write_location_notices(db, dt.timedelta(0)) == 1
    body = await api.call("GET", "/notifications", headers=bearer(walk.inviter), expect=200)
    [notice] = [n for n in body["items"] if n["type"] == "location_provided"]
    assert notice["data"]["count"] == 1
    assert notice["data"]["partner"]["id"] == walk.invitee.id
    body = await api.call("GET", "/notifications", headers=bearer(walk.invitee), expect=200)
    assert [n for n in body["items"] if n["type"] == "location_provided"] == []


async def test_a_pause_never_published_is_read_from_the_database(
    gateway: Gateway, walk: Walk, db: asyncpg.Connection
) -> None:
    ws, _ = await gateway.join(walk, walk.invitee)
    # As if the API had crashed between its commit and its announcement.
    await db.execute(
        "INSERT INTO location_pauses (user_id, paused_until) VALUES ($1, NULL)",
        uuid.UUID(walk.invitee.id),
    )
    assert await closed_with(ws) == 4005


async def test_nobody_can_make_the_gateways_work_through_endless_pauses(
    walk: Walk, api: Api
) -> None:
    for _ in range(30):
        await pause(api, walk.inviter, minutes=5)
        await api.call("DELETE", "/me/location-pause", headers=bearer(walk.inviter), expect=204)
    body = await api.call(
        "POST", "/me/location-pause", headers=bearer(walk.inviter), expect=429, json={}
    )
    assert_error(body, "rate_limited")
