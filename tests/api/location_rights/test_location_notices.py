"""The `location_provided` notification (CONTRACT section 3, Location consent; 위치정보법 §19③):
after each walk together, each walker whose location was provided is told, once, from the
ledger's counts, in the in-app list only."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from services.api.location_rights.notices import write_location_notices
from services.api.notifications.push_jobs import PUSH_STREAM
from tests.support import Api, User

NOW = dt.timedelta(0)


async def walk_together(api: Api, a: User, b: User) -> str:
    invitation = await api.call("POST", "/invitations", a, expect=201, json={"invitee_id": b.id})
    await api.call("POST", f"/invitations/{invitation['id']}/accept", b, expect=200)
    return str(invitation["id"])


async def ledger(
    db: asyncpg.Connection, invitation_id: str, owner: User, partner: User | None, count: int
) -> None:
    """As the gateway writes it: the owner's locations went to the partner `count` times."""
    await db.execute(
        "INSERT INTO location_access_log"
        " (user_id, invitation_id, direction, partner_id, first_at, last_at, count)"
        " VALUES ($1, $2, 'provided', $3, now() - interval '10 minutes', now(), $4)",
        uuid.UUID(owner.id),
        uuid.UUID(invitation_id),
        uuid.UUID(partner.id) if partner else None,
        count,
    )


async def notices(api: Api, user: User) -> list[Any]:
    body = await api.call("GET", "/notifications", user, expect=200)
    return [n for n in body["items"] if n["type"] == "location_provided"]


async def test_each_walker_whose_location_was_provided_is_told_once_with_the_counts(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    a, b = await api.signup(), await api.signup()
    walk = await walk_together(api, a, b)
    await ledger(db, walk, a, b, 12)
    await ledger(db, walk, b, a, 7)
    # Not before the walk ended.
    assert await write_location_notices(db, NOW) == 0
    await api.call("POST", f"/invitations/{walk}/finish", a, expect=200)
    stream_before = await redis.xlen(PUSH_STREAM)
    assert await write_location_notices(db, NOW) == 1  # the walk, with both its walkers
    assert await write_location_notices(db, NOW) == 0  # exactly once

    [to_a] = await notices(api, a)
    assert to_a["actor"] is None
    assert to_a["data"]["invitation_id"] == walk
    assert to_a["data"]["count"] == 12
    assert to_a["data"]["partner"] == {
        "id": b.id,
        "nickname": b.nickname,
        "profile_image_url": None,
    }
    assert to_a["data"]["first_at"] < to_a["data"]["last_at"]
    [to_b] = await notices(api, b)
    assert to_b["data"]["count"] == 7 and to_b["data"]["partner"]["id"] == a.id
    # Never pushed: no job, and the row is not waiting for one.
    assert await redis.xlen(PUSH_STREAM) == stream_before
    states = await db.fetch("SELECT push_state FROM notifications WHERE type = 'location_provided'")
    assert [r["push_state"] for r in states] == ["muted", "muted"]
    settings = await api.call("GET", "/me/notification-settings", a, expect=200)
    assert "location_provided" not in settings["push"]
    await api.call(
        "PATCH",
        "/me/notification-settings",
        a,
        expect=422,
        json={"push": {"location_provided": True}},
    )


async def test_a_walker_whose_location_was_not_provided_is_not_told(
    api: Api, db: asyncpg.Connection
) -> None:
    a, b = await api.signup(), await api.signup()
    walk = await walk_together(api, a, b)
    await ledger(db, walk, a, b, 3)
    await api.call("POST", f"/invitations/{walk}/cancel", b, expect=200)
    assert await write_location_notices(db, NOW) == 1
    assert await notices(api, b) == []
    assert len(await notices(api, a)) == 1


async def test_the_notice_waits_for_the_ledger_to_be_durable(
    api: Api, db: asyncpg.Connection
) -> None:
    a, b = await api.signup(), await api.signup()
    walk = await walk_together(api, a, b)
    await ledger(db, walk, a, b, 3)
    await api.call("POST", f"/invitations/{walk}/finish", a, expect=200)
    assert await write_location_notices(db) == 0  # the default delay has not passed


async def test_a_deleted_partner_is_named_as_no_one(api: Api, db: asyncpg.Connection) -> None:
    a, b = await api.signup(), await api.signup()
    walk = await walk_together(api, a, b)
    await ledger(db, walk, a, b, 3)
    await api.call("POST", f"/invitations/{walk}/finish", a, expect=200)
    await write_location_notices(db, NOW)
    await api.call("DELETE", "/me", b, expect=204, json={"password": "correct horse"})
    [notice] = await notices(api, a)
    assert notice["data"]["partner"] is None
    assert notice["data"]["count"] == 3
