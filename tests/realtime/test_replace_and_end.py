"""One socket per user per walk (4009, across instances), and the end of a walk (4004)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.realtime.presence import seat_key
from shared.settings import Settings
from shared.walk_events import last_location_key, publish_walk_ended
from tests.realtime.conftest import (
    Gateway,
    Walk,
    closed_with,
    create_walk,
    eventually,
    next_of_type,
)
from tests.support import Api


async def test_second_socket_on_another_instance_closes_the_first_4009(
    gateways: tuple[Gateway, Gateway], walk: Walk
) -> None:
    one, two = gateways
    partner, _ = await one.join(walk, walk.invitee)
    first, _ = await one.join(walk, walk.inviter)
    await next_of_type(partner, "presence")

    second, hello = await two.join(walk, walk.inviter)
    assert hello["partner_online"] is True
    assert await closed_with(first) == 4009

    # The partner keeps hearing from the new socket, and never heard the user go offline.
    await second.send_json({"lat": 7, "lng": 8})
    got = await next_of_type(partner, "location")
    assert got["user_id"] == walk.inviter.id and got["lat"] == 7
    await second.close()
    assert await next_of_type(partner, "presence") == {
        "type": "presence",
        "user_id": walk.inviter.id,
        "online": False,
    }
    await partner.close()


async def test_second_socket_on_the_same_instance_closes_the_first_4009(
    gateway: Gateway, walk: Walk, redis: aioredis.Redis
) -> None:
    first, _ = await gateway.join(walk, walk.inviter)
    second, _ = await gateway.join(walk, walk.inviter)
    assert await closed_with(first) == 4009
    # The replaced socket's departure leaves the new one's seat alone; its own departure frees it.
    assert await redis.exists(seat_key(walk.id, walk.inviter.id)) == 1
    await second.close()
    await eventually(lambda: _seat_gone(redis, walk))


async def test_each_user_keeps_one_socket_when_both_reconnect(
    gateways: tuple[Gateway, Gateway], walk: Walk
) -> None:
    one, two = gateways
    a1, _ = await one.join(walk, walk.inviter)
    b1, _ = await one.join(walk, walk.invitee)
    a2, _ = await two.join(walk, walk.inviter)
    b2, _ = await two.join(walk, walk.invitee)
    assert await closed_with(a1) == 4009
    assert await closed_with(b1) == 4009
    await a2.send_json({"lat": 3, "lng": 3})
    assert (await next_of_type(b2, "location"))["lat"] == 3
    await a2.close()
    await b2.close()


async def end_walk(db: asyncpg.Connection, redis: aioredis.Redis, walk: Walk, status: str) -> None:
    """What the API does when a walk ends: the row, then the event."""
    await db.execute(
        "UPDATE invitations SET status = $2, ended_at = now() WHERE id = $1",
        uuid.UUID(walk.id),
        status,
    )
    await publish_walk_ended(redis, uuid.UUID(walk.id), status)


async def test_walk_end_from_the_api_reaches_both_instances(
    gateways: tuple[Gateway, Gateway], walk: Walk, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    await end_walk(db, redis, walk, "finished")
    for ws in (inviter, invitee):
        assert await next_of_type(ws, "walk_ended") == {"type": "walk_ended", "status": "finished"}
        assert await closed_with(ws) == 4004


async def test_a_walk_ended_with_a_walkers_sessions_closes_that_walker_4001_first(
    gateways: tuple[Gateway, Gateway], walk: Walk, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    """A suspension or a deletion ends the person's sessions and their walk: their socket gets
    4001 even when the walk's end reaches the gateway before the sessions' end does."""
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    await db.execute(
        "UPDATE invitations SET status = 'cancelled', ended_at = now() WHERE id = $1",
        uuid.UUID(walk.id),
    )
    await publish_walk_ended(redis, uuid.UUID(walk.id), "cancelled", uuid.UUID(walk.inviter.id))
    assert await closed_with(inviter) == 4001
    assert (await next_of_type(invitee, "walk_ended"))["status"] == "cancelled"
    assert await closed_with(invitee) == 4004


async def test_cancelled_walk_says_so(
    gateway: Gateway, walk: Walk, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    await end_walk(db, redis, walk, "cancelled")
    assert (await next_of_type(inviter, "walk_ended"))["status"] == "cancelled"
    assert await closed_with(inviter) == 4004


async def test_lost_event_still_ends_the_walk_from_the_database(
    gateways: tuple[Gateway, Gateway], walk: Walk, db: asyncpg.Connection
) -> None:
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    # Only the row changes; no pub/sub message is ever sent.
    await db.execute(
        "UPDATE invitations SET status = 'finished', ended_at = now() WHERE id = $1",
        uuid.UUID(walk.id),
    )
    for ws in (inviter, invitee):
        assert (await next_of_type(ws, "walk_ended"))["status"] == "finished"
        assert await closed_with(ws) == 4004


async def test_ended_walk_refuses_a_reconnect_4002(
    gateway: Gateway, walk: Walk, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    await end_walk(db, redis, walk, "finished")
    assert await closed_with(inviter) == 4004
    again = await gateway.connect(walk.id, walk.inviter.token)
    assert await closed_with(again) == 4002


async def test_other_walks_are_untouched_by_a_walk_end(
    gateway: Gateway,
    walk: Walk,
    db: asyncpg.Connection,
    redis: aioredis.Redis,
    settings: Settings,
) -> None:
    other = await create_walk(db, settings)
    a, _ = await gateway.join(walk, walk.inviter)
    c, _ = await gateway.join(other, other.inviter)
    d, _ = await gateway.join(other, other.invitee)
    await end_walk(db, redis, walk, "finished")
    assert await closed_with(a) == 4004
    await c.send_json({"lat": 9, "lng": 9})
    assert (await next_of_type(d, "location"))["lat"] == 9
    await c.close()
    await d.close()


async def _seat_gone(redis: aioredis.Redis, walk: Walk) -> bool:
    return await redis.exists(seat_key(walk.id, walk.inviter.id)) == 0


@pytest.mark.parametrize(
    ("action", "created", "ended_as"),
    [
        ("/invitations/{walk}/finish", 200, "finished"),  # finished through the API
        ("/users/{inviter}/block", 201, "cancelled"),  # a block cancels the walk
    ],
    ids=["finish", "block"],
)
async def test_the_api_ends_the_walk_on_both_instances(
    gateways: tuple[Gateway, Gateway],
    walk: Walk,
    api: Api,
    action: str,
    created: int,
    ended_as: str,
) -> None:
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    await api.call(
        "POST",
        action.format(walk=walk.id, inviter=walk.inviter.id),
        headers={"Authorization": f"Bearer {walk.invitee.token}"},
        expect=created,
    )
    for ws in (inviter, invitee):
        assert await next_of_type(ws, "walk_ended") == {"type": "walk_ended", "status": ended_as}
        assert await closed_with(ws) == 4004


async def test_the_gateway_deletes_the_walkers_last_location_when_the_walk_ends(
    gateways: tuple[Gateway, Gateway], walk: Walk, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    """Also when a location of theirs was still on its way to Redis as the API deleted it."""
    one, two = gateways
    inviter, _ = await one.join(walk, walk.inviter)
    invitee, _ = await two.join(walk, walk.invitee)
    await inviter.send_json({"lat": 37.5, "lng": 127.0})
    await next_of_type(invitee, "location")
    key = last_location_key(walk.id, walk.inviter.id)
    assert await redis.exists(key)
    await end_walk(db, redis, walk, "finished")  # the event alone: no deletion by an API
    assert await closed_with(inviter) == 4004

    async def gone() -> bool:
        return not await redis.exists(key)

    await eventually(gone)
