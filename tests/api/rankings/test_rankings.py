"""Weekly rankings (CONTRACT section 3, Rankings and badges; the `ranking_changed` notification).

Weeks start Monday 00:00 in Seoul, which is Sunday 15:00 UTC: the app's clock is set by the test
and walks are placed on either side of that instant.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from services.api.rankings.weekly import WeekKeys, clock_key, ensure_week
from services.api.walks.effects import after_walk_committed, after_walk_deleted
from services.api.web.seoul_time import week_start
from shared.keys import db_pool_key
from shared.settings import Settings
from tests.api.walk_effects_support import (
    UTC,
    Clock,
    insert_walk,
    make_user,
    notifications_of,
    record_walk,
)
from tests.support import Api, User, assert_error, make_settings

MONDAY_MIDNIGHT_SEOUL = dt.datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # Monday 2026-11-23, Seoul
LAST_INSTANT_OF_PREVIOUS_WEEK = MONDAY_MIDNIGHT_SEOUL - dt.timedelta(microseconds=1)
THIS_WEEK = "2026-11-23T00:00:00.000000+09:00"
PREVIOUS_WEEK = "2026-11-16T00:00:00.000000+09:00"


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_MIDNIGHT_SEOUL + dt.timedelta(days=2))  # Wednesday


@pytest.fixture
async def client(settings: Settings, aiohttp_client: Any, clock: Clock) -> TestClient:
    app = create_app(settings)
    app[clock_key] = clock
    return await aiohttp_client(app)


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.app


async def ranking(api: Api, user: User, query: str = "") -> Any:
    return await api.call("GET", f"/rankings/weekly{query}", user, expect=200)


def summary(body: Any) -> list[tuple[str, int, float, int]]:
    """(user id, rank, distance_m, walk_count) of each item."""
    return [(i["user"]["id"], i["rank"], i["distance_m"], i["walk_count"]) for i in body["items"]]


async def walk(
    db: asyncpg.Connection,
    app: web.Application,
    user: User | uuid.UUID,
    started_at: dt.datetime,
    distance_m: float,
) -> Any:
    user_id = user if isinstance(user, uuid.UUID) else uuid.UUID(user.id)
    facts, _ = await record_walk(db, user_id, started_at, distance_m, app=app)
    return facts


async def test_week_starts_monday_midnight_in_seoul(api: Api, clock: Clock) -> None:
    user = await api.signup()
    clock.now = LAST_INSTANT_OF_PREVIOUS_WEEK
    assert (await ranking(api, user))["week_start"] == PREVIOUS_WEEK
    clock.now = MONDAY_MIDNIGHT_SEOUL
    assert (await ranking(api, user))["week_start"] == THIS_WEEK


async def test_walk_counts_in_the_seoul_week_it_started(
    api: Api, app: web.Application, db: asyncpg.Connection, clock: Clock
) -> None:
    late, early = await api.signup("late"), await api.signup("early")
    await walk(db, app, late, LAST_INSTANT_OF_PREVIOUS_WEEK, 1000)  # Sunday 23:59:59.999999
    await walk(db, app, early, MONDAY_MIDNIGHT_SEOUL, 2000)  # Monday 00:00:00 in Seoul
    body = await ranking(api, late)
    assert body["week_start"] == THIS_WEEK
    assert summary(body) == [(early.id, 1, 2000.0, 1)]
    assert body["me"] is None
    clock.now = LAST_INSTANT_OF_PREVIOUS_WEEK
    body = await ranking(api, late)
    assert body["week_start"] == PREVIOUS_WEEK
    assert summary(body) == [(late.id, 1, 1000.0, 1)]
    assert body["me"] == {"rank": 1, "distance_m": 1000.0}


async def test_ranking_orders_by_distance_and_ties_share_a_rank(
    api: Api, app: web.Application, db: asyncpg.Connection
) -> None:
    users = [await api.signup(f"u{n}") for n in range(4)]
    first, tied_a, tied_b, last = users[0], *sorted(users[1:3], key=lambda u: u.id), users[3]
    await walk(db, app, first, MONDAY_MIDNIGHT_SEOUL, 3000)
    await walk(db, app, first, MONDAY_MIDNIGHT_SEOUL + dt.timedelta(hours=5), 2000.25)
    for user in (tied_b, tied_a):
        await walk(db, app, user, MONDAY_MIDNIGHT_SEOUL + dt.timedelta(days=1), 4000.5)
    await walk(db, app, last, MONDAY_MIDNIGHT_SEOUL + dt.timedelta(days=1), 10)
    body = await ranking(api, tied_b)
    assert summary(body) == [
        (first.id, 1, 5000.25, 2),
        (tied_a.id, 2, 4000.5, 1),
        (tied_b.id, 2, 4000.5, 1),
        (last.id, 4, 10.0, 1),
    ]
    assert body["items"][0]["user"] == {
        "id": first.id,
        "nickname": first.nickname,
        "profile_image_url": None,
    }
    assert body["me"] == {"rank": 2, "distance_m": 4000.5}
    # The cut falls inside the tie: the lower user id comes first.
    cut = await ranking(api, last, "?limit=2")
    assert summary(cut) == [(first.id, 1, 5000.25, 2), (tied_a.id, 2, 4000.5, 1)]
    assert cut["me"] == {"rank": 4, "distance_m": 10.0}


async def test_following_scope_ranks_the_caller_among_those_followed(
    api: Api, app: web.Application, db: asyncpg.Connection
) -> None:
    me, friend, idle_friend, stranger = [await api.signup(n) for n in ("me", "fr", "idle", "st")]
    for followee in (friend, idle_friend):
        await db.execute(
            "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)",
            uuid.UUID(me.id),
            uuid.UUID(followee.id),
        )
    await walk(db, app, stranger, MONDAY_MIDNIGHT_SEOUL, 9000)
    await walk(db, app, friend, MONDAY_MIDNIGHT_SEOUL, 3000)
    await walk(db, app, me, MONDAY_MIDNIGHT_SEOUL, 1000)
    body = await ranking(api, me, "?scope=following")
    assert summary(body) == [(friend.id, 1, 3000.0, 1), (me.id, 2, 1000.0, 1)]
    assert body["me"] == {"rank": 2, "distance_m": 1000.0}
    assert (await ranking(api, me, "?scope=global"))["me"] == {"rank": 3, "distance_m": 1000.0}
    # The friend follows no one: alone in their own following ranking.
    friend_view = await ranking(api, friend, "?scope=following&limit=1")
    assert summary(friend_view) == [(friend.id, 1, 3000.0, 1)]


async def test_bad_scope_or_limit_is_422_naming_it(api: Api) -> None:
    user = await api.signup()
    for query, field in [
        ("?scope=friends", "scope"),
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
    ]:
        body = await api.call("GET", f"/rankings/weekly{query}", user, expect=422)
        assert_error(body, "validation_error")
        assert [d["field"] for d in body["error"]["details"]] == [field]
    assert_error(await api.call("GET", "/rankings/weekly", expect=401), "unauthorized")
    assert (await ranking(api, user, "?limit=100&scope=global"))["items"] == []


async def test_ranking_is_rebuilt_from_the_database_when_redis_lost_it(
    api: Api, app: web.Application, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    a, b = await api.signup("a"), await api.signup("b")
    await walk(db, app, a, MONDAY_MIDNIGHT_SEOUL, 1500)
    await walk(db, app, b, MONDAY_MIDNIGHT_SEOUL, 2500)
    before = await ranking(api, a)
    await redis.flushdb()
    assert await ranking(api, a) == before
    # A walk recorded while the week is missing rebuilds it and is counted once.
    await redis.flushdb()
    await walk(db, app, a, MONDAY_MIDNIGHT_SEOUL + dt.timedelta(days=1), 2000)
    assert summary(await ranking(api, a)) == [(a.id, 1, 3500.0, 2), (b.id, 2, 2500.0, 1)]
    keys = WeekKeys.of(week_start(MONDAY_MIDNIGHT_SEOUL))
    assert 0 < await redis.ttl(keys.distance) <= 5 * 7 * 24 * 3600
    assert await redis.ttl(keys.distance) == pytest.approx(await redis.ttl(keys.built), abs=5)


async def test_walk_already_in_a_rebuild_is_not_counted_twice(
    api: Api, app: web.Application, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    facts = await insert_walk(db, uuid.UUID(user.id), MONDAY_MIDNIGHT_SEOUL, 1200)
    assert summary(await ranking(api, user)) == [(user.id, 1, 1200.0, 1)]  # the rebuild saw it
    await after_walk_committed(app, facts)  # its hook, arriving late
    assert summary(await ranking(api, user)) == [(user.id, 1, 1200.0, 1)]


async def test_concurrent_rebuilds_count_each_walk_once(
    app: web.Application, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    user = await make_user(db)
    for hours in range(3):
        await insert_walk(db, user, MONDAY_MIDNIGHT_SEOUL + dt.timedelta(hours=hours), 100)
    start = week_start(MONDAY_MIDNIGHT_SEOUL)
    await asyncio.gather(*(ensure_week(redis, app[db_pool_key], start) for _ in range(4)))
    keys = WeekKeys.of(start)
    assert await redis.zscore(keys.distance, str(user)) == 300_000  # millimetres
    assert await redis.hget(keys.walks, str(user)) == b"3"


async def test_deleted_walk_leaves_the_ranking(
    api: Api, app: web.Application, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    a, b = await api.signup("a"), await api.signup("b")
    first = await walk(db, app, a, MONDAY_MIDNIGHT_SEOUL, 1000)
    second = await walk(db, app, a, MONDAY_MIDNIGHT_SEOUL + dt.timedelta(hours=1), 500)
    await walk(db, app, b, MONDAY_MIDNIGHT_SEOUL, 1200)
    await db.execute("DELETE FROM walks WHERE id = $1", first.id)
    await after_walk_deleted(app, first)
    assert summary(await ranking(api, a)) == [(b.id, 1, 1200.0, 1), (a.id, 2, 500.0, 1)]
    await after_walk_deleted(app, first)  # twice is harmless
    # Deleted while Redis had lost the week: the rebuild leaves it out.
    await redis.flushdb()
    await db.execute("DELETE FROM walks WHERE id = $1", second.id)
    await after_walk_deleted(app, second)
    body = await ranking(api, a)
    assert summary(body) == [(b.id, 1, 1200.0, 1)]
    assert body["me"] is None


async def test_overtaken_user_is_told_at_most_once_an_hour(
    api: Api, app: web.Application, db: asyncpg.Connection, clock: Clock
) -> None:
    a, b = await api.signup("a"), await api.signup("b")
    a_id, b_id = uuid.UUID(a.id), uuid.UUID(b.id)
    started = clock.now - dt.timedelta(hours=3)
    await walk(db, app, a, started, 5000)
    await walk(db, app, b, started, 4000)
    assert await notifications_of(db, a_id, "ranking_changed") == []  # b is behind

    await walk(db, app, b, started, 2000)  # b: 6000 > a: 5000
    [told] = await notifications_of(db, a_id, "ranking_changed")
    assert told["actor_id"] == b_id
    assert told["data"] == {"rank": 2, "week_start": THIS_WEEK, "overtaken_by": b.id}

    clock.advance(dt.timedelta(minutes=5))
    await walk(db, app, a, started, 2000)  # a: 7000 > b
    assert len(await notifications_of(db, b_id, "ranking_changed")) == 1
    clock.advance(dt.timedelta(minutes=5))
    await walk(db, app, b, started, 2000)  # b: 8000 > a, but a was told 10 minutes ago
    assert len(await notifications_of(db, a_id, "ranking_changed")) == 1
    clock.advance(dt.timedelta(minutes=60))
    await walk(db, app, a, started, 2000)  # a: 9000 > b, told 65 minutes ago
    assert len(await notifications_of(db, b_id, "ranking_changed")) == 2


async def test_tied_user_counts_as_overtaken_but_equal_score_does_not(
    app: web.Application, db: asyncpg.Connection, clock: Clock
) -> None:
    a, b, c = await make_user(db, "a"), await make_user(db, "b"), await make_user(db, "c")
    started = clock.now - dt.timedelta(hours=1)
    await walk(db, app, a, started, 1000)
    await walk(db, app, b, started, 1000)  # ties a: nobody passed
    await walk(db, app, c, started, 500)
    assert await notifications_of(db, a, "ranking_changed") == []
    await walk(db, app, b, started, 1)  # from a tie to ahead
    [told] = await notifications_of(db, a, "ranking_changed")
    assert told["data"]["rank"] == 2
    assert await notifications_of(db, c, "ranking_changed") == []  # was behind already


async def test_one_walk_notifies_at_most_the_50_nearest_it_passed(
    app: web.Application, db: asyncpg.Connection, clock: Clock, redis: aioredis.Redis
) -> None:
    started = clock.now - dt.timedelta(hours=1)
    passed = [await make_user(db, f"p{n}") for n in range(52)]
    for n, user in enumerate(passed):
        await insert_walk(db, user, started, 1000 + n)  # 1000 .. 1051 m
    leader = await make_user(db, "leader")
    await walk(db, app, leader, started, 2000)
    told = {u for u in passed if await notifications_of(db, u, "ranking_changed")}
    assert told == set(passed[2:])
    [nearest] = await notifications_of(db, passed[-1], "ranking_changed")
    assert nearest["data"]["rank"] == 2
    # Their pushes are queued too (after the commit, in the background).
    rows = await db.fetch("SELECT id FROM notifications WHERE type = 'ranking_changed'")
    expected = {str(r["id"]) for r in rows}
    assert expected <= await queued_push_jobs(redis, len(expected))


async def queued_push_jobs(redis: aioredis.Redis, at_least: int) -> set[str]:
    """The notification ids in `push:jobs`, once there are `at_least` (bounded wait)."""
    async with asyncio.timeout(5):
        while True:
            entries = await redis.xrange("push:jobs")
            if len(entries) >= at_least:
                return {fields[b"notification_id"].decode() for _, fields in entries}
            await asyncio.sleep(0.02)


async def test_walk_filed_into_a_past_week_notifies_no_one(
    api: Api, app: web.Application, db: asyncpg.Connection, clock: Clock
) -> None:
    a, b = await make_user(db, "a"), await make_user(db, "b")
    await walk(db, app, a, LAST_INSTANT_OF_PREVIOUS_WEEK, 1000)
    await walk(db, app, b, LAST_INSTANT_OF_PREVIOUS_WEEK, 2000)
    assert await notifications_of(db, a, "ranking_changed") == []
    clock.now = LAST_INSTANT_OF_PREVIOUS_WEEK
    user = await api.signup()
    assert [i["user"]["id"] for i in (await ranking(api, user))["items"]] == [str(b), str(a)]


async def test_ranking_hooks_never_raise_when_redis_is_down(
    database_url: str, aiohttp_client: Any, db: asyncpg.Connection, api: Api
) -> None:
    settings = make_settings(database_url, "redis://127.0.0.1:1/0")
    dead_redis_app = (await aiohttp_client(create_app(settings))).app
    user = await api.signup()
    facts = await walk(db, dead_redis_app, user, MONDAY_MIDNIGHT_SEOUL, 700)
    await after_walk_deleted(dead_redis_app, facts)
    await db.execute("UPDATE walks SET distance_m = 800 WHERE id = $1", facts.id)
    # The database stayed the truth: the working app rebuilds the week from it.
    assert summary(await ranking(api, user)) == [(user.id, 1, 800.0, 1)]


async def test_walks_posted_through_the_api_earn_badges_and_rank(api: Api, clock: Clock) -> None:
    """End to end: POST /walks → badges, ranking, ranking_changed; DELETE /walks → out again."""

    async def post_walk(user: User, started_at: dt.datetime, distance_m: float) -> Any:
        body = {
            "started_at": started_at.isoformat(),
            "ended_at": (started_at + dt.timedelta(minutes=40)).isoformat(),
            "distance_m": distance_m,
        }
        return await api.call("POST", "/walks", user, expect=201, json=body)

    choco, bori = await api.signup("choco"), await api.signup("bori")
    await post_walk(choco, LAST_INSTANT_OF_PREVIOUS_WEEK, 9000)  # last week: not ranked now
    await post_walk(choco, MONDAY_MIDNIGHT_SEOUL, 3000)
    badges = await api.call("GET", f"/users/{choco.id}/badges", bori, expect=200)
    assert [b["code"] for b in badges] == ["first_walk", "distance_10km"]
    inbox = await api.call("GET", "/notifications", choco, expect=200)
    assert {n["data"]["badge_code"] for n in inbox["items"]} == {"first_walk", "distance_10km"}

    bori_walk = await post_walk(bori, clock.now - dt.timedelta(hours=2), 3500)
    body = await ranking(api, choco)
    assert body["week_start"] == THIS_WEEK
    assert summary(body) == [(bori.id, 1, 3500.0, 1), (choco.id, 2, 3000.0, 1)]
    assert body["me"] == {"rank": 2, "distance_m": 3000.0}
    inbox = await api.call("GET", "/notifications", choco, expect=200)
    [overtaken] = [n for n in inbox["items"] if n["type"] == "ranking_changed"]
    assert overtaken["actor"]["id"] == bori.id
    assert overtaken["data"]["rank"] == 2

    await api.call("DELETE", f"/walks/{bori_walk['id']}", bori, expect=204)
    assert summary(await ranking(api, choco)) == [(choco.id, 1, 3000.0, 1)]
    # Badges stay with the walk gone.
    badges = await api.call("GET", f"/users/{bori.id}/badges", bori, expect=200)
    assert [b["code"] for b in badges] == ["first_walk"]


async def test_concurrent_walks_do_not_starve_a_small_pool(
    database_url: str, redis_url: str, aiohttp_client: Any, db: asyncpg.Connection
) -> None:
    """The ranking hook borrows a connection of its own: walks posted at once by more users than
    the pool has connections all complete, each counted once."""
    app = create_app(make_settings(database_url, redis_url, db_pool_max_size=2))
    small = Api(await aiohttp_client(app))
    users = [await small.signup(f"w{n}") for n in range(6)]
    started = dt.datetime.now(UTC) - dt.timedelta(hours=1)

    async def post(user: User, distance_m: float) -> None:
        body = {
            "started_at": started.isoformat(),
            "ended_at": (started + dt.timedelta(minutes=30)).isoformat(),
            "distance_m": distance_m,
        }
        await small.call("POST", "/walks", user, expect=201, json=body)

    async with asyncio.timeout(30):  # a guard against a hang, not a performance threshold
        await asyncio.gather(*(post(u, 1000 + n) for n, u in enumerate(users)))
        await asyncio.gather(*(post(u, 2000 - 100 * n) for n, u in enumerate(users)))
    body = await small.call("GET", "/rankings/weekly", users[0], expect=200)
    assert sorted(i["walk_count"] for i in body["items"]) == [2] * 6
    assert body["items"][0]["user"]["id"] == users[0].id


async def test_ranking_is_answered_from_the_database_when_redis_is_down(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    """Redis is an accelerator: the same ranking, summed in SQL, when it does not answer."""
    up = Api(await aiohttp_client(create_app(make_settings(database_url, redis_url))))
    walker, friend = await up.signup("walker"), await up.signup("friend")
    await up.follow(walker, friend)
    now = dt.datetime.now(dt.UTC)
    for user, km in ((walker, 3.5), (friend, 5.0), (friend, 1.0)):
        await up.call(
            "POST",
            "/walks",
            user,
            expect=201,
            json={
                "started_at": (now - dt.timedelta(minutes=1)).isoformat(),
                "ended_at": now.isoformat(),
                "distance_m": km * 1000,
            },
        )
    expected = await up.call("GET", "/rankings/weekly?scope=following", walker, expect=200)

    settings = make_settings(database_url, "redis://127.0.0.1:1/0", jwt_secret="x" * 48)
    down = Api(await aiohttp_client(create_app(settings)))
    login = await down.call(
        "POST", "/auth/login", expect=200, json={"email": walker.email, "password": "correct horse"}
    )
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    for scope in ("following", "global"):
        body = await down.call(
            "GET", f"/rankings/weekly?scope={scope}", headers=headers, expect=200
        )
        assert body == expected
    assert [(i["user"]["id"], i["distance_m"], i["walk_count"]) for i in expected["items"]] == [
        (friend.id, 6000.0, 2),
        (walker.id, 3500.0, 1),
    ]
    assert expected["me"] == {"rank": 2, "distance_m": 3500.0}
