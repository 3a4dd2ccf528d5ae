"""Set-up shared by the badge and ranking tests: walks recorded the way POST /walks records them
(row, then `in_walk_transaction` in the same transaction, then `after_walk_committed`), at
whatever time a test needs, and an app whose clock the test holds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from services.api.rankings.walk_facts import WalkFacts
from services.api.walks.effects import after_walk_committed, in_walk_transaction

UTC = dt.UTC


@dataclass
class Clock:
    """What the app believes "now" is."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


async def make_user(db: asyncpg.Connection, nickname: str = "walker") -> uuid.UUID:
    """A user row made directly (these tests do not depend on sign-up)."""
    user_id: uuid.UUID = await db.fetchval(
        "INSERT INTO users (email, password_hash, nickname) VALUES ($1, 'x', $2) RETURNING id",
        f"{uuid.uuid4().hex}@example.com",
        nickname,
    )
    return user_id


async def insert_walk(
    db: asyncpg.Connection,
    user_id: uuid.UUID,
    started_at: dt.datetime,
    distance_m: float = 1000.0,
    invitation_id: uuid.UUID | None = None,
) -> WalkFacts:
    row = await db.fetchrow(
        """INSERT INTO walks (user_id, started_at, ended_at, distance_m, invitation_id)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, user_id, started_at, ended_at, distance_m, invitation_id, created_at,
                     visibility""",
        user_id,
        started_at,
        started_at + dt.timedelta(minutes=30),
        distance_m,
        invitation_id,
    )
    return WalkFacts(**dict(row))


async def record_walk(
    db: asyncpg.Connection,
    user_id: uuid.UUID,
    started_at: dt.datetime,
    distance_m: float = 1000.0,
    invitation_id: uuid.UUID | None = None,
    app: web.Application | None = None,
) -> tuple[WalkFacts, list[uuid.UUID]]:
    """Insert a walk and award its badges in one transaction; then, given an app, rank it."""
    async with db.transaction():
        walk = await insert_walk(db, user_id, started_at, distance_m, invitation_id)
        notification_ids = await in_walk_transaction(db, walk)
    if app is not None:
        await after_walk_committed(app, walk)
    return walk, notification_ids


async def badge_codes(db: asyncpg.Connection, user_id: uuid.UUID) -> set[str]:
    rows = await db.fetch("SELECT code FROM badges WHERE user_id = $1", user_id)
    return {r["code"] for r in rows}


async def notifications_of(
    db: asyncpg.Connection, user_id: uuid.UUID, type: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT id, actor_id, data FROM notifications WHERE user_id = $1 AND type = $2 "
        "ORDER BY created_at",
        user_id,
        type,
    )
    return rows
