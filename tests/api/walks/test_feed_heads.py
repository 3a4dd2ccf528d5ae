"""Feed heads: the poll that finds nothing new answers from Redis, and never misses a walk."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.api.app import create_app
from services.api.walks import feed_heads
from services.api.walks.feed_heads import HEAD_TTL_S, RAISE_BATCH, HeadCheck, head_key, sort_key
from services.api.web.pagination import Cursor
from shared.resp import Endpoint, SharedConnection
from shared.settings import Settings
from tests.api.walk_support import post_walk
from tests.support import Api, User

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
LOW_ID, HIGH_ID = uuid.UUID(int=1), uuid.UUID(int=2**128 - 1)


@pytest.fixture
async def reads(redis_url: str) -> AsyncIterator[SharedConnection]:
    connection = SharedConnection(Endpoint.from_url(redis_url), "test-feed-heads", 1.0)
    yield connection
    connection.close()


def now_param() -> dict[str, str]:
    return {"since": dt.datetime.now(dt.UTC).isoformat()}


async def poll(api: Api, user: User, params: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = await api.call("GET", "/feed", user, expect=200, params=params)
    return body


async def head_of(redis: aioredis.Redis, user: User) -> str | None:
    value = await redis.get(head_key(uuid.UUID(user.id)))
    return value.decode() if value is not None else None


async def test_a_quiet_poll_is_answered_without_the_database(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    me = await api.signup()
    since = now_param()
    assert (await poll(api, me, since))["new_count"] == 0
    head = await head_of(redis, me)
    assert head is not None and head.startswith("s")
    assert 0 < await redis.ttl(head_key(uuid.UUID(me.id))) <= HEAD_TTL_S
    # A walk written behind the API's back moves no head: the poll does not see it, which shows
    # that it never asked PostgreSQL (walks must be written through the API).
    await db.execute(
        "INSERT INTO walks (user_id, started_at, ended_at, distance_m) "
        "VALUES ($1, now() - interval '1 hour', now(), 100)",
        uuid.UUID(me.id),
    )
    assert (await poll(api, me, since))["items"] == []
    await redis.delete(head_key(uuid.UUID(me.id)))
    assert (await poll(api, me, since))["new_count"] == 1


async def test_the_quiet_answer_has_the_database_answers_etag(
    api: Api, redis: aioredis.Redis
) -> None:
    me = await api.signup()
    since = now_param()
    from_database = await api.client.get("/feed", headers=me.headers, params=since)
    assert (await head_of(redis, me) or "").startswith("s")
    from_head = await api.client.get("/feed", headers=me.headers, params=since)
    assert await from_head.json() == await from_database.json()
    assert from_head.headers["ETag"] == from_database.headers["ETag"]
    assert from_head.headers["X-Poll-Interval"] == "30"
    matching = {**me.headers, "If-None-Match": from_database.headers["ETag"]}
    not_modified = await api.client.get("/feed", headers=matching, params=since)
    assert not_modified.status == 304


async def test_a_followees_walk_reaches_the_next_poll(api: Api, redis: aioredis.Redis) -> None:
    me, friend = await api.signup(), await api.signup()
    await api.follow(me, friend)
    since = now_param()
    assert (await poll(api, me, since))["new_count"] == 0
    settled = await head_of(redis, me)
    walk = await post_walk(api, friend, visibility="followers")
    assert await head_of(redis, me) != settled
    body = await poll(api, me, since)
    assert [w["id"] for w in body["items"]] == [walk["id"]]
    assert body["new_count"] == 1


async def test_a_private_walk_raises_only_its_authors_head(api: Api, redis: aioredis.Redis) -> None:
    me, friend = await api.signup(), await api.signup()
    await api.follow(me, friend)
    since = now_param()
    await poll(api, me, since)
    await poll(api, friend, since)
    mine, theirs = await head_of(redis, me), await head_of(redis, friend)
    walk = await post_walk(api, friend, visibility="private")
    assert await head_of(redis, me) == mine
    assert await head_of(redis, friend) != theirs
    assert (await poll(api, me, since))["new_count"] == 0
    assert [w["id"] for w in (await poll(api, friend, since))["items"]] == [walk["id"]]


async def test_following_someone_brings_their_walks_into_the_next_poll(api: Api) -> None:
    me, friend = await api.signup(), await api.signup()
    since = now_param()
    await post_walk(api, friend, visibility="private")
    walk = await post_walk(api, friend)
    assert (await poll(api, me, since))["new_count"] == 0  # settled: nothing newer for me
    await api.follow(me, friend)
    body = await poll(api, me, since)
    assert [w["id"] for w in body["items"]] == [walk["id"]]


async def test_polls_read_the_database_while_redis_is_down(
    settings: Settings, aiohttp_client: Any, api: Api
) -> None:
    dead_redis = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    dead_redis_api = Api(await aiohttp_client(create_app(dead_redis)))
    me, friend = await api.signup(), await api.signup()
    await api.follow(me, friend)
    since = now_param()
    await poll(api, me, since)
    # Recorded while Redis is down: the walk still reaches the feed, from the database.
    walk = await post_walk(dead_redis_api, friend)
    body = await poll(dead_redis_api, me, since)
    assert [w["id"] for w in body["items"]] == [walk["id"]]
    assert body["new_count"] == 1


async def test_a_raise_creates_a_missing_head_unsettled_with_a_ttl(
    redis: aioredis.Redis, reads: SharedConnection
) -> None:
    viewer = uuid.uuid4()
    await feed_heads.raise_heads(redis, [viewer], Cursor(T0, LOW_ID))
    assert (await redis.get(head_key(viewer))) == b"u" + sort_key(Cursor(T0, LOW_ID)).encode()
    assert 0 < await redis.ttl(head_key(viewer)) <= HEAD_TTL_S
    assert await feed_heads.check(reads, viewer, Cursor(T0, HIGH_ID)) is HeadCheck.QUERY_AND_SETTLE


async def test_settling_never_lowers_a_head_raised_meanwhile(
    redis: aioredis.Redis, reads: SharedConnection
) -> None:
    viewer = uuid.uuid4()
    assert await feed_heads.check(reads, viewer, Cursor(T0, LOW_ID)) is HeadCheck.QUERY_AND_SETTLE
    later = Cursor(T0 + dt.timedelta(seconds=1), LOW_ID)
    await feed_heads.raise_heads(redis, [viewer], later)  # a walk while the poll read the feed
    await feed_heads.settle(redis, viewer, Cursor(T0, LOW_ID))
    assert await redis.get(head_key(viewer)) == b"s" + sort_key(later).encode()
    assert await feed_heads.check(reads, viewer, Cursor(T0, HIGH_ID)) is HeadCheck.QUERY
    assert await feed_heads.check(reads, viewer, later) is HeadCheck.NOTHING_NEWER
    # A raise keeps a head settled, and lowering is never a raise.
    await feed_heads.raise_heads(redis, [viewer], Cursor(T0, LOW_ID))
    assert await redis.get(head_key(viewer)) == b"s" + sort_key(later).encode()


async def test_settling_a_head_that_vanished_does_nothing(
    redis: aioredis.Redis, reads: SharedConnection
) -> None:
    viewer = uuid.uuid4()
    await feed_heads.check(reads, viewer, Cursor(T0, LOW_ID))
    await redis.delete(head_key(viewer))  # e.g. Redis restarted while the poll read the feed
    await feed_heads.settle(redis, viewer, Cursor(T0, LOW_ID))
    assert await redis.get(head_key(viewer)) is None


async def test_a_raise_reaches_every_follower_in_batches(redis: aioredis.Redis) -> None:
    viewers = [uuid.uuid4() for _ in range(RAISE_BATCH * 2 + 3)]
    await feed_heads.raise_heads(redis, viewers, Cursor(T0, LOW_ID))
    heads = await redis.mget([head_key(v) for v in viewers])
    assert heads == [b"u" + sort_key(Cursor(T0, LOW_ID)).encode()] * len(viewers)


def test_sort_keys_sort_like_the_feed() -> None:
    cursors = [
        Cursor(dt.datetime(1969, 12, 31, tzinfo=dt.UTC), HIGH_ID),  # before 1970: at the floor
        Cursor(T0, LOW_ID),
        Cursor(T0, uuid.UUID("0fffffff-ffff-ffff-ffff-ffffffffffff")),
        Cursor(T0, uuid.UUID("f0000000-0000-0000-0000-000000000000")),
        Cursor(T0 + dt.timedelta(microseconds=1), LOW_ID),
        Cursor(dt.datetime.max.replace(tzinfo=dt.UTC), LOW_ID),
    ]
    keys = [sort_key(c) for c in cursors]
    assert keys == sorted(keys)
    assert len(set(map(len, keys))) == 1
    seoul = dt.timezone(dt.timedelta(hours=9))
    assert sort_key(Cursor(T0.astimezone(seoul), LOW_ID)) == sort_key(Cursor(T0, LOW_ID))
