"""Only public walks count in rankings (CONTRACT section 3, Rankings and badges): in Redis, in
a rebuild from the database, and in the SQL answer used while Redis is down."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from services.api.app import create_app
from services.api.rankings.weekly import ranking_from_database
from services.api.web.seoul_time import week_start
from tests.support import Api, User, make_settings


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


async def places(reader: Api, user: User, query: str = "") -> tuple[list[tuple[str, int]], Any]:
    """(user id, rank) of each item, and `me`, as `user` signed in to `reader` gets them."""
    credentials = {"email": user.email, "password": "correct horse"}
    login = await reader.call("POST", "/auth/login", expect=200, json=credentials)
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    body = await reader.call("GET", f"/rankings/weekly{query}", headers=headers, expect=200)
    return [(i["user"]["id"], i["rank"]) for i in body["items"]], body["me"]


async def test_a_block_leaves_each_out_of_the_others_ranking_ranked_without_them(
    api: Api, database_url: str, aiohttp_client: Any
) -> None:
    """Both ways, in Redis and in the SQL answer used while Redis is down: the other is left
    out and the ranks close up, the caller's own included; everyone else sees both."""
    blocker, other, blocked = await api.signup(), await api.signup(), await api.signup()
    for user, metres in ((blocker, 5000), (other, 4000), (blocked, 3000)):
        await record(api, user, metres, "public")
    await api.follow(blocked, other)
    await api.call("POST", f"/users/{blocked.id}/block", blocker, expect=201)

    settings = make_settings(database_url, "redis://127.0.0.1:1/0", jwt_secret="x" * 48)
    down = Api(await aiohttp_client(create_app(settings)))
    blocked_me = {"rank": 2, "distance_m": 3000.0}
    for reader in (api, down):
        without_blocker = [(other.id, 1), (blocked.id, 2)]
        assert await places(reader, blocked) == (without_blocker, blocked_me)
        assert await places(reader, blocked, "?limit=1") == ([(other.id, 1)], blocked_me)
        assert await places(reader, blocked, "?scope=following") == (without_blocker, blocked_me)
        assert await places(reader, blocker) == (
            [(blocker.id, 1), (other.id, 2)],
            {"rank": 1, "distance_m": 5000.0},
        )
        everyone = [(blocker.id, 1), (other.id, 2), (blocked.id, 3)]
        assert (await places(reader, other))[0] == everyone
