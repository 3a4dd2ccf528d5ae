"""Only public walks count in rankings (CONTRACT section 3, Rankings and badges): in Redis, in
a rebuild from the database, and in the SQL answer used while Redis is down."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from services.api.rankings.weekly import ranking_from_database
from services.api.web.seoul_time import week_start
from tests.conftest import Api, User


async def record(api: Api, user: User, distance_m: float, visibility: str) -> str:
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    body = {
        "started_at": (ended - dt.timedelta(minutes=30)).isoformat(),
        "ended_at": ended.isoformat(),
        "distance_m": distance_m,
        "visibility": visibility,
    }
    walk: dict[str, Any] = await api.call("POST", "/walks", user, expect=201, json=body)
    return str(walk["id"])


def ranked(body: Any) -> list[tuple[str, float, int]]:
    return [(i["user"]["id"], i["distance_m"], i["walk_count"]) for i in body["items"]]


async def test_private_and_followers_walks_do_not_rank(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    hidden, mixed, viewer = await api.signup(), await api.signup(), await api.signup()
    await record(api, hidden, 9000, "private")
    await record(api, hidden, 8000, "followers")
    await record(api, mixed, 1000, "public")
    await record(api, mixed, 7000, "private")
    expected = [(mixed.id, 1000.0, 1)]

    body = await api.call("GET", "/rankings/weekly", viewer, expect=200)
    assert ranked(body) == expected
    mine = await api.call("GET", "/rankings/weekly", hidden, expect=200)
    assert mine["me"] is None

    await redis.flushdb()  # rebuilt from the database
    assert ranked(await api.call("GET", "/rankings/weekly", viewer, expect=200)) == expected

    start = week_start(dt.datetime.now(dt.UTC))
    standings, walks = await ranking_from_database(db, start, None)
    assert [(s.user_id, s.distance_mm) for s in standings] == [(uuid.UUID(mixed.id), 1_000_000)]
    assert walks == {uuid.UUID(mixed.id): 1}


async def test_deleting_a_public_walk_moves_the_ranking(api: Api) -> None:
    walker, viewer = await api.signup(), await api.signup()
    first = await record(api, walker, 1500, "public")
    await record(api, walker, 500, "public")
    await api.call("DELETE", f"/walks/{first}", walker, expect=204)
    body = await api.call("GET", "/rankings/weekly", viewer, expect=200)
    assert ranked(body) == [(walker.id, 500.0, 1)]
