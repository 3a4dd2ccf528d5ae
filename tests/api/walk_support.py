"""Set-up shared by the walks, feed and interactions tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from tests.support import Api, User

WALK_KEYS = {
    "id",
    "user",
    "dogs",
    "started_at",
    "ended_at",
    "duration_s",
    "distance_m",
    "visibility",
    "memo",
    "invitation_id",
    "like_count",
    "comment_count",
    "liked_by_me",
    "created_at",
}
START = dt.datetime(2026, 11, 20, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def walk_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "started_at": START.isoformat(),
        "ended_at": (START + dt.timedelta(minutes=42, seconds=30)).isoformat(),
        "distance_m": 2750.5,
    }
    body.update(overrides)
    return body


async def post_walk(api: Api, user: User, **overrides: Any) -> dict[str, Any]:
    walk: dict[str, Any] = await api.call(
        "POST", "/walks", user, expect=201, json=walk_payload(**overrides)
    )
    return walk


async def follow(db: asyncpg.Connection, follower: User, followee: User) -> None:
    """A follow made directly in the database: these tests do not depend on the follow route.

    Make it before the follower's first `since` poll: a follow written behind the API's back does
    not raise the follower's feed head (services/api/walks/feed_heads.py)."""
    await db.execute(
        "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)",
        uuid.UUID(follower.id),
        uuid.UUID(followee.id),
    )


async def add_dog(db: asyncpg.Connection, owner: User, name: str, breed: str | None = None) -> str:
    dog_id = await db.fetchval(
        "INSERT INTO dogs (owner_id, name, breed) VALUES ($1, $2, $3) RETURNING id",
        uuid.UUID(owner.id),
        name,
        breed,
    )
    return str(dog_id)


async def three_people(api: Api, db: asyncpg.Connection) -> tuple[User, User, User]:
    """(owner, a follower of the owner, a stranger)."""
    owner, fan, stranger = await api.signup("owner"), await api.signup("fan"), await api.signup()
    await follow(db, fan, owner)
    return owner, fan, stranger


# Who sees a walk of each visibility: (owner, follower, stranger).
VISIBILITY_MATRIX = [
    ("public", (True, True, True)),
    ("followers", (True, True, False)),
    ("private", (True, False, False)),
]


async def pushed_notification_ids(redis: aioredis.Redis, expected: str) -> list[str]:
    """The notification ids in `push:jobs`, once `expected` is among them (bounded wait)."""
    async with asyncio.timeout(5):
        while True:
            entries = await redis.xrange("push:jobs")
            ids = [fields[b"notification_id"].decode() for _, fields in entries]
            if expected in ids:
                return ids
            await asyncio.sleep(0.02)
